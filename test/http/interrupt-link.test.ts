import type { Interrupt } from "@ag-ui/core";
import { SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { InterruptingAgent } from "../helpers/agents.js";
import { endedRun } from "../helpers/wait-for.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const ADMIN = "admin-token-for-interrupt-links";
const JWT_SECRET = "a-jwt-secret-of-at-least-32-characters!";
const approval: Interrupt = {
  id: "approve-email",
  reason: "tool_call",
  message: "Send the email?",
  expiresAt: new Date(T0 + 3 * 86_400_000).toISOString(),
};
const detail: Interrupt = { id: "which-address", reason: "input_required" };

interface ErrorBody {
  error: { code: string; message: string };
}

/** Signed interrupt links (PROTOCOL.md §3.1.10). */
describe("signed interrupt links", () => {
  let clock: ManualClock;
  let tl: Threadline;
  beforeEach(() => {
    InterruptingAgent.inputs = [];
    clock = new ManualClock(T0);
    tl = createThreadline({
      store: createMemoryStore(),
      token: ADMIN,
      jwt: { secret: JWT_SECRET },
      clock,
      agents: {
        hitl: new InterruptingAgent([approval]),
        two: new InterruptingAgent([approval, detail]),
      },
    });
  });
  afterEach(() => tl.close({ graceMs: 100 }));

  const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    tl.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error;

  async function interrupted(threadId: string, agentId = "hitl"): Promise<void> {
    const res = await post(`/threads/${threadId}/runs`, { agentId }, admin);
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    await endedRun(tl.store, threadId, runId);
  }

  it("answers its one interrupt without any other credential; the run records whom it was for", async () => {
    await interrupted("t1");
    const link = await tl.interruptLink({
      threadId: "t1",
      interruptId: approval.id,
      sub: "alice@example.com",
    });
    expect(link.path).toBe(`/threads/t1/interrupts/${approval.id}?access_token=${link.token}`);
    expect(link.expiresAt).toBe(T0 + 86_400_000);
    // The landing page: what is asked (a GET answers nothing).
    const shown = await tl.app.request(link.path);
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({
      threadId: "t1",
      interrupt: approval,
      link: { statuses: ["resolved", "cancelled"], sub: "alice@example.com" },
    });
    expect((await tl.store.threads.head("t1"))!.interrupts).toEqual([approval]);
    const res = await post(link.path, { status: "resolved", payload: { approved: true } });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const run = await endedRun(tl.store, "t1", runId);
    expect(run).toMatchObject({
      agentId: "hitl",
      status: "succeeded",
      trigger: { kind: "client", source: "interrupt-link" },
      startedBy: { kind: "link", id: "alice@example.com" },
      input: { resume: [{ interruptId: approval.id, status: "resolved" }] },
    });
    const listed = (await (
      await tl.app.request(`/threads/t1/runs/${runId}`, { headers: admin })
    ).json()) as { startedBy: unknown };
    expect(listed.startedBy).toEqual({ kind: "link", id: "alice@example.com" });
    // Used up: the interrupt is answered.
    const again = await post(link.path, { status: "resolved", payload: { approved: true } });
    expect(again.status).toBe(404);
    expect((await errorOf(again)).code).toBe("INTERRUPT_NOT_FOUND");
  });

  it("refuses a wrong signature, an expired link, another interrupt, another route and other answers", async () => {
    await interrupted("t2");
    await interrupted("other");
    const link = await tl.interruptLink({
      threadId: "t2",
      interruptId: approval.id,
      statuses: ["cancelled"],
      ttlMs: 60_000,
    });
    const bearer = { authorization: `Bearer ${link.token}` };
    // Tampered: the signature no longer matches.
    const forged = link.token.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    const bad = await post(`/threads/t2/interrupts/${approval.id}?access_token=${forged}`, {
      status: "cancelled",
    });
    expect(bad.status).toBe(401);
    expect(await errorOf(bad)).toMatchObject({
      code: "UNAUTHORIZED",
      message: "the interrupt link's signature is not valid",
    });
    // Signed by someone else's key, with the same claims.
    const foreign = await new SignJWT({
      thr: "t2",
      int: approval.id,
      st: ["cancelled"],
      seq: 1,
      ct: 1,
    })
      .setProtectedHeader({ alg: "HS256", typ: "threadline-interrupt+jwt" })
      .setExpirationTime(Math.floor(T0 / 1000) + 600)
      .sign(new TextEncoder().encode("another-servers-key-of-enough-length"));
    const stranger = await post(
      `/threads/t2/interrupts/${approval.id}`,
      { status: "cancelled" },
      {
        authorization: `Bearer ${foreign}`,
      },
    );
    expect(stranger.status).toBe(401);
    // Not what it was made for.
    const resolved = await post(link.path, { status: "resolved" });
    expect(resolved.status).toBe(403);
    expect(await errorOf(resolved)).toMatchObject({
      code: "FORBIDDEN",
      message: "this link may only answer cancelled, not resolved",
    });
    for (const path of [`/threads/other/interrupts/${approval.id}`, "/threads/t2/interrupts/x"]) {
      const res = await post(path, { status: "cancelled" }, bearer);
      expect(res.status).toBe(403);
      expect((await errorOf(res)).message).toMatch(
        /only answers interrupt 'approve-email' of thread 't2'/,
      );
    }
    for (const [method, path] of [
      ["GET", "/threads/t2"],
      ["GET", "/threads/t2/events?follow=false"],
      ["POST", `/threads/t2/interrupts/${approval.id}/link`],
    ] as const) {
      const res = await tl.app.request(path, {
        method,
        headers: { ...bearer, "content-type": "application/json" },
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      expect(res.status).toBe(403);
    }
    const more = await post(link.path, { status: "cancelled", agentId: "two" });
    expect(more.status).toBe(403);
    // Expired (on the server's clock, the interrupts' own).
    await clock.advance(61_000);
    const late = await post(link.path, { status: "cancelled" });
    expect(late.status).toBe(401);
    expect(await errorOf(late)).toMatchObject({ message: "the interrupt link expired" });
    // Nothing was stored by any of them.
    expect((await tl.store.runs.list("t2")).length).toBe(1);
    expect((await tl.store.threads.head("t2"))!.interrupts).toEqual([approval]);
  });

  it("is for one question: after it was answered, the same interrupt id asked again needs a new link", async () => {
    await interrupted("t3");
    const old = await tl.interruptLink({ threadId: "t3", interruptId: approval.id });
    const answer = await post(
      `/threads/t3/interrupts/${approval.id}`,
      { status: "cancelled" },
      admin,
    );
    await endedRun(tl.store, "t3", ((await answer.json()) as { runId: string }).runId);
    await interrupted("t3");
    expect((await tl.store.threads.head("t3"))!.interrupts).toEqual([approval]);
    const stale = await post(old.path, { status: "cancelled" });
    expect(stale.status).toBe(404);
    expect((await errorOf(stale)).code).toBe("INTERRUPT_NOT_FOUND");
  });

  it("a link never outlives its interrupt's deadline, and one is not made for an answered or expired interrupt", async () => {
    await interrupted("t4");
    const long = await tl.interruptLink({
      threadId: "t4",
      interruptId: approval.id,
      ttlMs: 10 * 86_400_000,
    });
    expect(long.expiresAt).toBe(Date.parse(approval.expiresAt!));
    await expect(tl.interruptLink({ threadId: "t4", interruptId: "nope" })).rejects.toMatchObject({
      code: "INTERRUPT_NOT_FOUND",
    });
    await expect(tl.interruptLink({ threadId: "none", interruptId: "x" })).rejects.toMatchObject({
      code: "THREAD_NOT_FOUND",
    });
    await expect(
      tl.interruptLink({ threadId: "t4", interruptId: approval.id, ttlMs: 10 }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    clock.jumpTo(Date.parse(approval.expiresAt!));
    await expect(
      tl.interruptLink({ threadId: "t4", interruptId: approval.id }),
    ).rejects.toMatchObject({ code: "INTERRUPT_EXPIRED" });
  });

  it("POST …/link mints one for a caller with the thread's write access; only the static token names another sub", async () => {
    await interrupted("t5");
    const made = await post(
      `/threads/t5/interrupts/${approval.id}/link`,
      {
        sub: "ops-oncall",
        statuses: ["resolved"],
        ttlMs: 3_600_000,
      },
      admin,
    );
    expect(made.status).toBe(201);
    const body = (await made.json()) as {
      url: string;
      path: string;
      token: string;
      expiresAt: number;
    };
    expect(body.url).toBe(`http://localhost${body.path}`);
    expect(body.expiresAt).toBe(T0 + 3_600_000);
    const shown = (await (await tl.app.request(body.path)).json()) as { link: unknown };
    expect(shown.link).toEqual({ statuses: ["resolved"], sub: "ops-oncall" });

    // A user owning the thread makes links for itself only.
    const userJwt = await new SignJWT({ threads: ["u-"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("bob")
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const user = { authorization: `Bearer ${userJwt}` };
    await interrupted("u-1");
    const other = await post(`/threads/u-1/interrupts/${approval.id}/link`, { sub: "carol" }, user);
    expect(other.status).toBe(403);
    const own = await post(`/threads/u-1/interrupts/${approval.id}/link`, {}, user);
    expect(own.status).toBe(201);
    const { path } = (await own.json()) as { path: string };
    const res = await post(path, { status: "cancelled" });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    expect((await endedRun(tl.store, "u-1", runId)).startedBy).toEqual({ kind: "link", id: "bob" });
    // A thread the user may not use: no link.
    const foreignThread = await post(`/threads/t5/interrupts/${approval.id}/link`, {}, user);
    expect(foreignThread.status).toBe(403);
    // Malformed requests.
    const badBody = await post(
      `/threads/t5/interrupts/${approval.id}/link`,
      { statuses: [] },
      admin,
    );
    expect(badBody.status).toBe(400);
  });

  it("on a thread waiting on several interrupts a link cannot answer the others: the rule of §3.1.4 holds", async () => {
    await interrupted("t6", "two");
    const link = await tl.interruptLink({ threadId: "t6", interruptId: detail.id });
    const alone = await post(link.path, { status: "cancelled" });
    expect(alone.status).toBe(409);
    expect((await errorOf(alone)).code).toBe("INTERRUPTS_PENDING");
    const withOthers = await post(link.path, {
      status: "cancelled",
      resume: [{ interruptId: approval.id, status: "cancelled" }],
    });
    expect(withOthers.status).toBe(403);
  });
});

describe("signed interrupt links on an open server", () => {
  it("work and record whom they were for; another server's link does not", async () => {
    const make = () =>
      createThreadline({
        store: createMemoryStore(),
        agents: { hitl: new InterruptingAgent([approval]) },
        interruptLinkSecret: "a-link-secret-shared-by-instances",
      });
    const a = make();
    const b = createThreadline({
      store: createMemoryStore(),
      agents: { hitl: new InterruptingAgent([approval]) },
      interruptLinkSecret: "another-link-secret-entirely!!",
    });
    try {
      const started = await a.startRun({ threadId: "o", agentId: "hitl" });
      await endedRun(a.store, "o", started.runId);
      const link = await a.interruptLink({ threadId: "o", interruptId: approval.id, sub: "dana" });
      const foreign = await b.app.request(link.path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status: "cancelled" }),
      });
      expect(foreign.status).toBe(401);
      const res = await a.app.request(link.path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status: "cancelled" }),
      });
      expect(res.status).toBe(202);
      const { runId } = (await res.json()) as { runId: string };
      expect((await endedRun(a.store, "o", runId)).startedBy).toEqual({ kind: "link", id: "dana" });
    } finally {
      await a.close({ graceMs: 50 });
      await b.close({ graceMs: 50 });
    }
  });
});
