import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { RawPhoenix } from "../helpers/phoenix-client.js";

/**
 * Per-user access on the CopilotKit run-activity socket: with JWT auth, a user's channel only
 * hears of runs on its own threads, and a join token whose JWT expired is refused.
 */

const SECRET = "a-jwt-secret-of-at-least-32-characters!";
const key = new TextEncoder().encode(SECRET);
const jwtFor = (sub: string, expSec = 600) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now - 120)
    .setExpirationTime(now + expSec)
    .sign(key);
};

let tl: Threadline;
let base: string;
let close: () => Promise<void>;
beforeAll(async () => {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    jwt: { secret: SECRET },
  });
  const srv = await tl.listen({ port: 0 });
  base = `${srv.url}/copilotkit`;
  close = srv.close;
});
afterAll(async () => {
  await close();
  await tl.close({ graceMs: 50 });
});

async function joined(token: string) {
  const headers = { authorization: `Bearer ${token}` };
  const list = (await (await fetch(`${base}/threads?agentId=demo`, { headers })).json()) as {
    joinCode: string;
  };
  const sub = await fetch(`${base}/threads/subscribe`, { method: "POST", headers, body: "{}" });
  const { joinToken } = (await sub.json()) as { joinToken: string };
  const info = (await (await fetch(`${base}/info`, { headers })).json()) as {
    intelligence: { wsUrl: string };
  };
  const socket = await RawPhoenix.open(info.intelligence.wsUrl, joinToken);
  expect((await socket.join(`user_meta:${list.joinCode}`)).status).toBe("ok");
  return { socket, joinToken, wsUrl: info.intelligence.wsUrl };
}

const run = (token: string, threadId: string) =>
  fetch(`${base.replace(/\/copilotkit$/, "")}/threads/${threadId}/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ agentId: "demo", forwardedProps: { demo: { delayMs: 1 } } }),
  }).then(async (r) => ((await r.json()) as { runId: string }).runId);

describe("the run-activity socket with JWT auth", () => {
  it("announces a user's own runs only", async () => {
    const alice = await jwtFor("alice");
    const bob = await jwtFor("bob");
    const a = await joined(alice);
    const b = await joined(bob);
    try {
      const bobRun = await run(bob, "bob-socket");
      const aliceRun = await run(alice, "alice-socket");
      await b.socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === bobRun);
      await a.socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === aliceRun);
      expect(a.socket.events("thread_run_activity").map((p) => p.threadId)).toEqual([
        "alice-socket",
      ]);
      expect(b.socket.events("thread_run_activity").map((p) => p.threadId)).toEqual(["bob-socket"]);
    } finally {
      a.socket.close();
      b.socket.close();
    }
  });

  it("refuses a join token once the JWT it was given for has expired", async () => {
    // A JWT that expires in about a second (the server tolerates no skew here): its join
    // token opens the socket now, and is refused at the upgrade once the JWT has expired.
    const strict = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      jwt: { secret: SECRET, clockToleranceSec: 0 },
    });
    const srv = await strict.listen({ port: 0 });
    try {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("carol")
        .setExpirationTime(exp)
        .sign(key);
      const headers = { authorization: `Bearer ${token}` };
      const url = `${srv.url}/copilotkit`;
      const sub = await fetch(`${url}/threads/subscribe`, { method: "POST", headers, body: "{}" });
      const { joinToken } = (await sub.json()) as { joinToken: string };
      const wsUrl = `${url.replace(/^http/, "ws")}/socket`;
      (await RawPhoenix.open(wsUrl, joinToken)).close();
      let status: number | undefined;
      const deadline = Date.now() + 10_000;
      while (status === undefined && Date.now() < deadline) {
        status = await RawPhoenix.open(wsUrl, joinToken).then(
          (s) => {
            s.close();
            return undefined;
          },
          (e: { status?: number }) => e.status,
        );
        if (status === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    } finally {
      await srv.close();
      await strict.close({ graceMs: 50 });
    }
  });
});
