import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ThreadlineClient } from "../../src/client/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { routeTable } from "../../src/http/access/route-table.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Per-user access (PROTOCOL.md §7.1), driven from the server's route table: every route the app
 * serves must be declared there, and every declared route is tried by principal A against
 * principal B's thread. A route added without a declaration, or without a sample request here,
 * fails this file.
 */

const SECRET = "a-jwt-secret-of-at-least-32-characters!";
const ADMIN_TOKEN = "admin-static-token";
const key = new TextEncoder().encode(SECRET);

async function jwtFor(
  sub: string,
  opts: { expSec?: number; secret?: Uint8Array; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...opts.claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now - 120)
    .setExpirationTime(now + (opts.expSec ?? 600))
    .sign(opts.secret ?? key);
}

let tl: Threadline;
let alice: string;
let bob: string;

const call = (token: string | undefined, method: string, path: string, body?: unknown) =>
  tl.app.request(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function settle(res: Response): Promise<string> {
  // SSE answers (follow, run, connect) are read to their end or cancelled.
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    await res.body?.cancel();
    return "";
  }
  return res.text();
}

const demo = { demo: { delayMs: 0, tokens: 3 } };
const runInput = (threadId: string) => ({
  threadId,
  runId: crypto.randomUUID(),
  messages: [],
  tools: [],
  context: [],
  state: {},
  forwardedProps: demo,
});

/** Bob's thread with one finished run (CopilotKit's list shows threads with runs). */
async function bobThread(threadId: string): Promise<{ threadId: string; runId: string }> {
  const res = await call(bob, "POST", `/threads/${threadId}/runs`, {
    agentId: "demo",
    forwardedProps: demo,
  });
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  await waitFor(async () => {
    const r = await call(bob, "GET", `/threads/${threadId}/runs/${runId}`);
    return ((await r.json()) as { status: string }).status === "succeeded";
  }, "bob's run to end");
  return { threadId, runId };
}

interface Sample {
  method: string;
  path: string;
  body?: unknown;
}

/** A request on each declared route, aimed at `t` (run `r`). Keyed by `METHOD path`. */
function samples(t: string, r: string): Record<string, Sample[]> {
  const s = (method: string, path: string, body?: unknown): Sample => ({
    method,
    path,
    ...(body === undefined ? {} : { body }),
  });
  const cop = (base: string): Record<string, Sample[]> => ({
    [`GET ${base}/info`]: [s("GET", `${base}/info`)],
    [`POST ${base}/info`]: [s("POST", `${base}/info`, {})],
    [`POST ${base}/agent/:agentId/run`]: [s("POST", `${base}/agent/demo/run`, runInput(t))],
    [`POST ${base}/agent/:agentId/connect`]: [
      s("POST", `${base}/agent/demo/connect`, { threadId: t }),
    ],
    [`POST ${base}/agent/:agentId/stop/:threadId`]: [s("POST", `${base}/agent/demo/stop/${t}`, {})],
    [`POST ${base || "/"}`]: [
      s("POST", base || "/", { method: "info" }),
      s("POST", base || "/", {
        method: "agent/run",
        params: { agentId: "demo" },
        body: runInput(t),
      }),
      s("POST", base || "/", {
        method: "agent/connect",
        params: { agentId: "demo" },
        body: { threadId: t },
      }),
      s("POST", base || "/", {
        method: "agent/stop",
        params: { agentId: "demo", threadId: t },
        body: {},
      }),
    ],
  });
  return {
    "GET /threads": [s("GET", "/threads")],
    "POST /threads": [s("POST", "/threads", { threadId: t })],
    "GET /threads/:threadId": [s("GET", `/threads/${t}`)],
    "PATCH /threads/:threadId": [s("PATCH", `/threads/${t}`, { metadata: { x: 1 } })],
    "DELETE /threads/:threadId": [s("DELETE", `/threads/${t}`)],
    "GET /threads/:threadId/events": [s("GET", `/threads/${t}/events?follow=false`)],
    "POST /threads/:threadId/follow-url": [s("POST", `/threads/${t}/follow-url`)],
    "POST /threads/:threadId/runs": [
      s("POST", `/threads/${t}/runs`, { agentId: "demo", forwardedProps: demo }),
    ],
    "GET /threads/:threadId/runs": [s("GET", `/threads/${t}/runs`)],
    "GET /threads/:threadId/runs/:runId": [s("GET", `/threads/${t}/runs/${r}`)],
    "POST /threads/:threadId/runs/:runId/cancel": [s("POST", `/threads/${t}/runs/${r}/cancel`)],
    "POST /threads/:threadId/interrupts/:interruptId": [
      s("POST", `/threads/${t}/interrupts/approve`, { status: "resolved", payload: { ok: true } }),
    ],
    "GET /threads/:threadId/interrupts/:interruptId": [
      s("GET", `/threads/${t}/interrupts/approve`),
    ],
    "POST /threads/:threadId/interrupts/:interruptId/link": [
      s("POST", `/threads/${t}/interrupts/approve/link`, {}),
    ],
    "POST /schedules": [s("POST", "/schedules", { agentId: "demo", threadId: t, everyMs: 60_000 })],
    "GET /schedules": [s("GET", "/schedules")],
    "GET /metrics": [s("GET", "/metrics")],
    "GET /schedules/:scheduleId": [s("GET", "/schedules/x")],
    "PATCH /schedules/:scheduleId": [s("PATCH", "/schedules/x", { paused: true })],
    "DELETE /schedules/:scheduleId": [s("DELETE", "/schedules/x")],
    ...cop(""),
    ...cop("/copilotkit"),
    "GET /copilotkit/threads": [s("GET", "/copilotkit/threads?agentId=demo")],
    "POST /copilotkit/threads/subscribe": [s("POST", "/copilotkit/threads/subscribe", {})],
    "GET /copilotkit/threads/:threadId/messages": [s("GET", `/copilotkit/threads/${t}/messages`)],
    "GET /copilotkit/threads/:threadId/state": [s("GET", `/copilotkit/threads/${t}/state`)],
    "GET /copilotkit/threads/:threadId/events": [s("GET", `/copilotkit/threads/${t}/events`)],
    "PATCH /copilotkit/threads/:threadId": [
      s("PATCH", `/copilotkit/threads/${t}`, { agentId: "demo", name: "mine now" }),
    ],
    "POST /copilotkit/threads/:threadId/archive": [
      s("POST", `/copilotkit/threads/${t}/archive`, { agentId: "demo" }),
    ],
    "DELETE /copilotkit/threads/:threadId": [s("DELETE", `/copilotkit/threads/${t}`)],
  };
}

/** Routes anyone may call: probes, signed webhooks, the inspector page (it holds no data). */
const PUBLIC_ROUTES = new Set([
  "GET /healthz",
  "GET /readyz",
  "POST /hooks/:hookId",
  "GET /",
  "GET /_inspector/:file",
]);

beforeAll(async () => {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    token: ADMIN_TOKEN,
    jwt: { secret: SECRET },
  });
  alice = await jwtFor("alice");
  bob = await jwtFor("bob");
});
afterAll(async () => {
  await tl.close({ graceMs: 50 });
});

const declared = () => {
  const out = new Map<string, { kind: string }>();
  for (const r of routeTable(tl.app)) {
    const access = typeof r.access === "function" ? { kind: "found-in-request" } : r.access;
    out.set(`${r.method} ${r.path}`, access);
  }
  return out;
};

describe("per-user access, route by route", () => {
  it("every route the app serves is declared, and every declared route has a sample here", () => {
    const table = declared();
    const served = tl.app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path}`);
    for (const route of served) expect(table.has(route), `${route} declares its access`).toBe(true);
    const sampled = samples("t", "r");
    for (const [route, access] of table) {
      if (access.kind === "public") {
        expect(PUBLIC_ROUTES.has(route), `${route} is public on purpose`).toBe(true);
      } else {
        expect(sampled[route], `${route} has a sample request in this test`).toBeDefined();
      }
    }
  });

  it("alice cannot list, read, follow, run, cancel, patch or delete bob's thread on any route", async () => {
    const { threadId, runId } = await bobThread("bob-private");
    // A queued-or-running run of bob's for the cancel and stop routes to aim at.
    const long = await call(bob, "POST", `/threads/${threadId}/runs`, {
      agentId: "demo",
      multitask: "enqueue",
      forwardedProps: { demo: { delayMs: 60_000, tokens: 2 } },
    });
    const longRun = ((await long.json()) as { runId: string }).runId;
    const before = (
      (await (await call(bob, "GET", `/threads/${threadId}/runs`)).json()) as {
        runs: unknown[];
      }
    ).runs.length;

    const table = declared();
    const all = samples(threadId, runId);
    for (const [route, access] of table) {
      if (access.kind === "public") continue;
      for (const sample of all[route] ?? []) {
        const res = await call(alice, sample.method, sample.path, sample.body);
        const text = await settle(res);
        const what = `${sample.method} ${sample.path} ${JSON.stringify(sample.body ?? "")}`;
        if (res.status === 200 && !text.includes(threadId)) continue; // a list or /info: not shown
        expect(res.status, `${what} → ${text}`).toBe(403);
        expect(JSON.parse(text).error.code, what).toBe("FORBIDDEN");
      }
    }
    // Nothing happened to bob's thread: still there, no run added, none cancelled.
    const after = await call(bob, "GET", `/threads/${threadId}/runs`);
    const runs = ((await after.json()) as { runs: { runId: string; status: string }[] }).runs;
    expect(runs).toHaveLength(before);
    expect(runs.find((r) => r.runId === longRun)?.status).toMatch(/queued|running/);
    const thread = (await (await call(bob, "GET", `/threads/${threadId}`)).json()) as {
      metadata: Record<string, unknown>;
    };
    expect(thread.metadata).toEqual({ owner: "bob" });
    await call(bob, "POST", `/threads/${threadId}/runs/${longRun}/cancel`);
  });

  it("bob can do all of it on his own threads (the checks do not just refuse everyone)", async () => {
    const table = declared();
    let n = 0;
    for (const [route, access] of table) {
      if (access.kind === "public" || access.kind === "admin") continue;
      const count = samples("x", "y")[route]?.length ?? 0;
      for (let i = 0; i < count; i++) {
        const { threadId, runId } = await bobThread(`bob-own-${++n}`);
        const mine = samples(threadId, runId)[route]![i]!;
        const res = await call(bob, mine.method, mine.path, mine.body);
        const text = await settle(res);
        expect([401, 403], `${mine.method} ${mine.path} → ${text}`).not.toContain(res.status);
        expect(res.status, `${mine.method} ${mine.path} → ${text}`).toBeLessThan(500);
      }
    }
  });

  it("lists show each user only their threads; the static token sees all", async () => {
    await bobThread("bob-listed");
    const res = await call(alice, "POST", "/threads/alice-run/runs", {
      agentId: "demo",
      forwardedProps: demo,
    });
    expect(res.status).toBe(202);
    const ids = async (token: string, path: string, key: string, id: string) => {
      const body = (await (await call(token, "GET", path)).json()) as Record<string, unknown[]>;
      return (body[key] as Record<string, string>[]).map((t) => t[id]);
    };
    const aliceNative = await ids(alice, "/threads", "threads", "threadId");
    expect(aliceNative).toContain("alice-run");
    expect(aliceNative.some((id) => id?.startsWith("bob-"))).toBe(false);
    const adminNative = await ids(ADMIN_TOKEN, "/threads", "threads", "threadId");
    expect(adminNative).toEqual(expect.arrayContaining(["alice-run", "bob-listed"]));
    await waitFor(async () => {
      const r = await call(alice, "GET", "/threads/alice-run/runs");
      return ((await r.json()) as { runs: { status: string }[] }).runs[0]?.status === "succeeded";
    }, "alice's run");
    const aliceCk = await ids(alice, "/copilotkit/threads?agentId=demo", "threads", "id");
    expect(aliceCk).toContain("alice-run");
    expect(aliceCk.some((id) => id?.startsWith("bob-"))).toBe(false);
  });

  it("runs record who started and who cancelled them; GET /threads/:id/runs shows it", async () => {
    const started = await call(bob, "POST", "/threads/bob-audit/runs", {
      agentId: "demo",
      forwardedProps: { demo: { delayMs: 60_000, tokens: 2 } },
    });
    const { runId } = (await started.json()) as { runId: string };
    const queued = await call(ADMIN_TOKEN, "POST", "/threads/bob-audit/runs", {
      agentId: "demo",
      multitask: "enqueue",
      forwardedProps: demo,
    });
    const queuedId = ((await queued.json()) as { runId: string }).runId;
    expect(
      (await call(ADMIN_TOKEN, "POST", `/threads/bob-audit/runs/${queuedId}/cancel`)).status,
    ).toBe(200);
    expect((await call(bob, "POST", `/threads/bob-audit/runs/${runId}/cancel`)).status).toBe(200);
    const runs = (
      (await (await call(bob, "GET", "/threads/bob-audit/runs")).json()) as {
        runs: Record<string, unknown>[];
      }
    ).runs;
    expect(runs.find((r) => r.runId === runId)).toMatchObject({
      status: "cancelled",
      startedBy: { kind: "user", id: "bob" },
      cancelledBy: { kind: "user", id: "bob" },
    });
    expect(runs.find((r) => r.runId === queuedId)).toMatchObject({
      status: "cancelled",
      startedBy: { kind: "token", id: "token" },
      cancelledBy: { kind: "token", id: "token" },
    });
  });

  it("an expired, wrongly signed or missing token gets 401 JSON on every non-public route", async () => {
    const expired = await jwtFor("bob", { expSec: -120 }); // beyond the 30 s clock skew
    const forged = await jwtFor("bob", { secret: new TextEncoder().encode("x".repeat(40)) });
    const table = declared();
    const all = samples("bob-private", "r");
    for (const [route, access] of table) {
      if (access.kind === "public") continue;
      // Every sample (each single-route envelope method too), with each bad credential.
      for (const sample of all[route]!) {
        for (const token of [expired, forged, "not-a-token", undefined]) {
          const res = await call(token, sample.method, sample.path, sample.body);
          const body = (await res.json()) as { error: { code: string; message: string } };
          const what = `${sample.method} ${sample.path} ${JSON.stringify(sample.body ?? "")}`;
          expect(res.status, `${what} with ${token?.slice(0, 12)}`).toBe(401);
          expect(body.error.code).toBe("UNAUTHORIZED");
        }
      }
    }
    const res = await call(expired, "GET", "/threads");
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
    const bad = await call(forged, "GET", "/threads");
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /signature/,
    );
  });

  it("a token within the clock skew is accepted", async () => {
    const justExpired = await jwtFor("bob", { expSec: -10 });
    expect((await call(justExpired, "GET", "/threads")).status).toBe(200);
  });

  it("a `threads` claim grants threads under its prefixes; nobody may write `owner`", async () => {
    await call(ADMIN_TOKEN, "POST", "/threads", { threadId: "team-a:board" });
    await call(ADMIN_TOKEN, "POST", "/threads", { threadId: "team-b:board" });
    const carol = await jwtFor("carol", { claims: { threads: ["team-a:"] } });
    expect((await call(carol, "GET", "/threads/team-a:board")).status).toBe(200);
    expect((await call(carol, "GET", "/threads/team-b:board")).status).toBe(403);
    // Her claim scopes her: a thread outside it cannot be created either.
    expect((await call(carol, "POST", "/threads", { threadId: "elsewhere" })).status).toBe(403);
    const list = (await (await call(carol, "GET", "/threads")).json()) as {
      threads: { threadId: string }[];
    };
    expect(list.threads.map((t) => t.threadId)).toEqual(["team-a:board"]);
    const steal = await call(alice, "POST", "/threads", {
      threadId: "alice-gift",
      metadata: { owner: "bob" },
    });
    expect(steal.status).toBe(403);
    await call(alice, "POST", "/threads", { threadId: "alice-own" });
    const give = await call(alice, "PATCH", "/threads/alice-own", { metadata: { owner: "bob" } });
    expect(give.status).toBe(403);
  });
});

describe("signed follow URLs", () => {
  it("follow the one thread they were minted for, and nothing else", async () => {
    const { threadId } = await bobThread("bob-follow");
    const minted = await call(bob, "POST", `/threads/${threadId}/follow-url`);
    expect(minted.status).toBe(201);
    const { url, path, expiresAt } = (await minted.json()) as {
      url: string;
      path: string;
      expiresAt: number;
    };
    expect(url.endsWith(path)).toBe(true);
    expect(expiresAt).toBeGreaterThan(Date.now());
    const follow = await tl.app.request(`${path}&follow=false`);
    expect(follow.status).toBe(200);
    expect(await follow.text()).toContain("RUN_FINISHED");
    const token = new URL(url).searchParams.get("access_token")!;
    // Not another route, not another thread.
    expect((await call(token, "GET", `/threads/${threadId}`)).status).toBe(403);
    await call(ADMIN_TOKEN, "POST", "/threads", { threadId: "other" });
    expect(
      (await tl.app.request(`/threads/other/events?follow=false&access_token=${token}`)).status,
    ).toBe(403);
    // Tampered: 401.
    const tampered = await tl.app.request(
      `/threads/${threadId}/events?follow=false&access_token=${token.slice(0, -4)}AAAA`,
    );
    expect(tampered.status).toBe(401);
    // Alice may not mint one for bob's thread.
    expect((await call(alice, "POST", `/threads/${threadId}/follow-url`)).status).toBe(403);
    // threadline/client mints them too.
    const client = new ThreadlineClient({
      baseUrl: "http://threadline.test",
      token: bob,
      fetch: (input, init) => Promise.resolve(tl.app.request(String(input), init)),
    });
    const viaClient = await client.followUrl(threadId);
    expect(viaClient.path).toMatch(new RegExp(`^/threads/${threadId}/events\\?access_token=`));
    await expect(client.followUrl("other")).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
