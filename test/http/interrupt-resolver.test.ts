import type { Interrupt } from "@ag-ui/core";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import type { RunActor } from "../../src/core/types.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline, type ThreadlineOptions } from "../../src/threadline.js";
import { InterruptingAgent } from "../helpers/agents.js";
import { endedRun } from "../helpers/wait-for.js";

/**
 * The resume run that `POST /threads/:id/interrupts/:interruptId` starts records the principal
 * that answered as its `startedBy` (PROTOCOL.md §3.1.5, §7.1), in every auth mode: an open
 * server (nobody), the static token, a user's JWT — and not the principal that asked.
 */

const SECRET = "a-jwt-secret-of-at-least-32-characters!";
const ADMIN = "admin-token-for-resolvers";
const approval: Interrupt = { id: "approve", reason: "tool_call" };

const jwtFor = (sub: string) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(SECRET));
};

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

function boot(auth: Pick<ThreadlineOptions, "token" | "jwt">): Threadline {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { hitl: new InterruptingAgent([approval]) },
    ...auth,
  });
  return tl;
}

const post = (t: Threadline, token: string | undefined, path: string, body: unknown) =>
  t.app.request(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

/** Asks on `threadId` with `asker`'s credentials, answers with `resolver`'s; the resume run. */
async function askAndAnswer(
  t: Threadline,
  threadId: string,
  asker: string | undefined,
  resolver: string | undefined,
) {
  const asked = await post(t, asker, `/threads/${threadId}/runs`, { agentId: "hitl" });
  expect(asked.status).toBe(202);
  const first = (await asked.json()) as { runId: string };
  await endedRun(t.store, threadId, first.runId);
  expect((await t.store.threads.head(threadId))!.interrupts.map((i) => i.id)).toEqual(["approve"]);
  const res = await post(t, resolver, `/threads/${threadId}/interrupts/approve`, {
    status: "resolved",
    payload: { ok: true },
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  const resumed = await endedRun(t.store, threadId, runId);
  expect(resumed).toMatchObject({ status: "succeeded", trigger: { source: "interrupt" } });
  // The run list shows the same as the store.
  const listed = await t.app.request(`/threads/${threadId}/runs/${runId}`, {
    headers: resolver ? { authorization: `Bearer ${resolver}` } : {},
  });
  const shown = (await listed.json()) as { startedBy?: RunActor };
  return { first: (await t.store.runs.get(threadId, first.runId))!, resumed, shown };
}

describe("the resolver of an interrupt is recorded as the resume run's startedBy", () => {
  it("an open server: nobody (no startedBy)", async () => {
    const t = boot({});
    const { resumed, shown } = await askAndAnswer(t, "open", undefined, undefined);
    expect(resumed.startedBy).toBeUndefined();
    expect(shown.startedBy).toBeUndefined();
  });

  it("the static token: { kind: token }", async () => {
    const t = boot({ token: ADMIN });
    const { resumed, shown } = await askAndAnswer(t, "static", ADMIN, ADMIN);
    expect(resumed.startedBy).toEqual({ kind: "token", id: "token" });
    expect(shown.startedBy).toEqual({ kind: "token", id: "token" });
  });

  it("a user's JWT: the resolver's sub, not the asker's", async () => {
    const t = boot({ token: ADMIN, jwt: { secret: SECRET } });
    // The static token's run asks on bob's thread; bob (its owner) answers.
    const created = await post(t, ADMIN, "/threads", {
      threadId: "jwt-thread",
      metadata: { owner: "bob" },
    });
    expect(created.status).toBe(201);
    const bob = await jwtFor("bob");
    const { first, resumed, shown } = await askAndAnswer(t, "jwt-thread", ADMIN, bob);
    expect(first.startedBy).toEqual({ kind: "token", id: "token" });
    expect(resumed.startedBy).toEqual({ kind: "user", id: "bob" });
    expect(shown.startedBy).toEqual({ kind: "user", id: "bob" });
  });

  it("a user who may not use the thread cannot answer for it (403, nothing started)", async () => {
    const t = boot({ token: ADMIN, jwt: { secret: SECRET } });
    const bob = await jwtFor("bob");
    const alice = await jwtFor("alice");
    const asked = await post(t, bob, "/threads/bobs/runs", { agentId: "hitl" });
    const { runId } = (await asked.json()) as { runId: string };
    await endedRun(t.store, "bobs", runId);
    const res = await post(t, alice, "/threads/bobs/interrupts/approve", { status: "resolved" });
    expect(res.status).toBe(403);
    expect(await t.store.runs.list("bobs")).toHaveLength(1);
    expect((await t.store.threads.head("bobs"))!.interrupts.map((i) => i.id)).toEqual(["approve"]);
  });
});
