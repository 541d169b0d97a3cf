import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { JoinTokens, resolveJoinSecret } from "../../src/copilotkit-surface/join-token.js";
import { CHECKED_AGAINST } from "../../src/copilotkit-surface/wire.js";
import { silentLogger } from "../../src/core/logger.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { RawPhoenix } from "../helpers/phoenix-client.js";
import { waitFor } from "../helpers/wait-for.js";

const data = createMemoryData();
let tl: Threadline;
let server: { url: string; close(): Promise<void> };
const sockets: RawPhoenix[] = [];

beforeAll(async () => {
  tl = createThreadline({ store: createMemoryStore({ data }), agents: { demo: new DemoAgent() } });
  server = await tl.listen({ port: 0 });
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
afterAll(async () => {
  await server?.close();
  await tl?.close({ graceMs: 50 });
});

const base = () => `${server.url}/copilotkit`;

async function credentials(headers: Record<string, string> = {}, url = base()) {
  const list = await fetch(`${url}/threads?agentId=demo`, { headers });
  expect(list.status).toBe(200);
  const { joinCode } = (await list.json()) as { joinCode: string };
  const sub = await fetch(`${url}/threads/subscribe`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: "{}",
  });
  expect(sub.status).toBe(200);
  const { joinToken } = (await sub.json()) as { joinToken: string };
  const info = (await (await fetch(`${url}/info`, { headers })).json()) as {
    intelligence: { wsUrl: string };
  };
  return { joinCode, joinToken, wsUrl: info.intelligence.wsUrl };
}

async function joined(headers: Record<string, string> = {}, url = base()) {
  const c = await credentials(headers, url);
  const socket = await RawPhoenix.open(c.wsUrl, c.joinToken);
  sockets.push(socket);
  const reply = await socket.join(`user_meta:${c.joinCode}`);
  expect(reply.status).toBe("ok");
  return { socket, ...c, joinRef: reply.joinRef };
}

const startRun = (threadId: string, demo: Record<string, unknown> = { delayMs: 1 }) =>
  tl.startRun({ threadId, agentId: "demo", input: { forwardedProps: { demo } } });

describe("CopilotKit surface: the versions it was checked against", () => {
  it("runs against exactly the CopilotKit and phoenix versions of CHECKED_AGAINST", () => {
    // The wake rides CopilotKit internals: an upgrade must come with a fresh look (COMPAT.md).
    const version = (pkg: string) =>
      (
        JSON.parse(readFileSync(join("node_modules", pkg, "package.json"), "utf8")) as {
          version: string;
        }
      ).version;
    expect(version("@copilotkit/react-core")).toBe(CHECKED_AGAINST["@copilotkit/react-core"]);
    expect(version("@copilotkit/react-core/node_modules/@copilotkit/core")).toBe("1.74.0");
    expect(version("@copilotkit/core")).toBe("1.75.0");
    expect(version("@copilotkit/runtime")).toBe(CHECKED_AGAINST["@copilotkit/runtime"]);
    expect(version("phoenix")).toBe(CHECKED_AGAINST.phoenix);
  });
});

describe("CopilotKit surface: /info and the thread store routes", () => {
  it("/copilotkit/info turns the stock chat's wake on; the root /info does not", async () => {
    const info = (await (await fetch(`${base()}/info`)).json()) as Record<string, unknown>;
    expect(info.mode).toBe("sse");
    expect(info.intelligence).toEqual({ wsUrl: `${base().replace("http:", "ws:")}/socket` });
    expect(info.threadEndpoints).toMatchObject({ list: true, realtimeMetadata: true });
    expect(Object.keys(info.agents as object)).toEqual(["demo"]);
    expect(info).not.toHaveProperty("licenseStatus");
    const root = (await (await fetch(`${server.url}/info`)).json()) as Record<string, unknown>;
    expect(root).not.toHaveProperty("intelligence");
    expect(root.threadEndpoints).toMatchObject({ realtimeMetadata: false });
  });

  it("lists threads in CopilotKit's shape with a join code; the native list is unchanged", async () => {
    const { runId } = await startRun("listed");
    await tl.coordinator.idle("listed");
    const res = await fetch(`${base()}/threads?agentId=demo&limit=50`);
    const body = (await res.json()) as { threads: Record<string, unknown>[]; joinCode: string };
    const mine = body.threads.find((t) => t.id === "listed");
    expect(mine).toMatchObject({ agentId: "demo", name: null, archived: false });
    expect(String(mine?.createdAt)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(String(mine?.lastRunAt)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(body.joinCode).toMatch(/^[\w-]{22}$/);
    const other = (await (await fetch(`${base()}/threads?agentId=nobody`)).json()) as {
      threads: unknown[];
    };
    expect(other.threads).toEqual([]);
    const native = (await (await fetch(`${server.url}/threads`)).json()) as unknown;
    expect(JSON.stringify(native)).toContain('"threadId":"listed"');
    const run = (await tl.store.runs.get("listed", runId))!;
    expect(run.status).toBe("succeeded");
  });

  it("pages with limit and cursor; a bad cursor or limit is a 400", async () => {
    for (const t of ["p1", "p2", "p3"]) {
      await startRun(t);
      await tl.coordinator.idle(t);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = (await (await fetch(`${base()}/threads?agentId=demo&limit=2${q}`)).json()) as {
        threads: { id: string }[];
        nextCursor: string | null;
      };
      expect(page.threads.length).toBeLessThanOrEqual(2);
      seen.push(...page.threads.map((t) => t.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expect.arrayContaining(["p1", "p2", "p3", "listed"]));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await fetch(`${base()}/threads?agentId=demo&cursor=nope`)).status).toBe(400);
    expect((await fetch(`${base()}/threads?agentId=demo&limit=0`)).status).toBe(400);
  });

  it("inspects a thread: messages, state and its events as one valid run", async () => {
    await tl.startRun({
      threadId: "inspect",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "hi" }],
        forwardedProps: { demo: { delayMs: 1 } },
      },
    });
    await tl.coordinator.idle("inspect");
    const msgs = (await (await fetch(`${base()}/threads/inspect/messages`)).json()) as {
      messages: { role: string; content: string }[];
    };
    expect(msgs.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(msgs.messages[1]?.content).toBe("You said: hi");
    const state = (await (await fetch(`${base()}/threads/inspect/state`)).json()) as {
      state: { turns?: number };
    };
    expect(state.state.turns).toBe(1);
    const events = (await (await fetch(`${base()}/threads/inspect/events`)).json()) as {
      events: { type: string }[];
    };
    expect(events.events.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "MESSAGES_SNAPSHOT",
      "STATE_SNAPSHOT",
      "RUN_FINISHED",
    ]);
    expect(await (await fetch(`${base()}/threads/unknown-one/events`)).json()).toEqual({
      events: [],
    });
  });
});

describe("CopilotKit surface: thread mutations", () => {
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${base()}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("renames, archives, unarchives and deletes, telling open lists over the socket", async () => {
    await startRun("mut-1");
    await tl.coordinator.idle("mut-1");
    const { socket } = await joined();
    const meta = (op: string) =>
      socket.next(
        (f) => f[3] === "thread_metadata" && f[4].operation === op && f[4].threadId === "mut-1",
      );

    const renamed = await call("PATCH", "/threads/mut-1", { agentId: "demo", name: "Groceries" });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ id: "mut-1", name: "Groceries", archived: false });
    expect((await meta("renamed"))[4]).toMatchObject({ thread: { name: "Groceries" } });
    expect((await tl.store.threads.head("mut-1"))?.metadata).toMatchObject({ name: "Groceries" });

    const archived = await call("POST", "/threads/mut-1/archive", { agentId: "demo" });
    expect(await archived.json()).toEqual({ threadId: "mut-1", archived: true });
    expect((await meta("archived"))[4]).toMatchObject({ thread: { archived: true } });
    const listed = async (q: string) =>
      (
        (await (await fetch(`${base()}/threads?agentId=demo${q}`)).json()) as {
          threads: { id: string }[];
        }
      ).threads.map((t) => t.id);
    expect(await listed("")).not.toContain("mut-1");
    expect(await listed("&includeArchived=true")).toContain("mut-1");

    await call("PATCH", "/threads/mut-1", { agentId: "demo", archived: false });
    await meta("unarchived");
    expect(await listed("")).toContain("mut-1");

    const deleted = await call("DELETE", "/threads/mut-1", { agentId: "demo" });
    expect(await deleted.json()).toEqual({ threadId: "mut-1", deleted: true });
    expect((await meta("deleted"))[4]).toMatchObject({ deleted: { id: "mut-1" } });
    expect(await tl.store.threads.head("mut-1")).toBeNull();
    expect(await listed("&includeArchived=true")).not.toContain("mut-1");
  });

  it("rejects bad bodies and unknown threads with JSON errors", async () => {
    expect((await call("PATCH", "/threads/mut-x", { name: 5 })).status).toBe(400);
    const bad = await fetch(`${base()}/threads/mut-x`, { method: "PATCH", body: "{nope" });
    expect(bad.status).toBe(400);
    const unknown = await call("PATCH", "/threads/never-seen", { name: "x" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe(
      "THREAD_NOT_FOUND",
    );
    expect((await call("DELETE", "/threads/never-seen", {})).status).toBe(404);
    const info = (await (await fetch(`${base()}/info`)).json()) as { threadEndpoints: object };
    expect(info.threadEndpoints).toMatchObject({ mutations: true });
  });
});

describe("CopilotKit surface: the run-activity socket", () => {
  it("announces a run that starts while joined, with its agent, and the thread's metadata", async () => {
    const { socket } = await joined();
    const { runId } = await startRun("wake-1");
    const activity = await socket.next(
      (f) => f[3] === "thread_run_activity" && f[4].runId === runId,
    );
    expect(activity[4]).toEqual({
      threadId: "wake-1",
      runId,
      agentId: "demo",
      eventType: "RUN_STARTED",
    });
    const meta = await socket.next((f) => f[3] === "thread_metadata" && f[4].threadId === "wake-1");
    expect(meta[4]).toMatchObject({
      operation: "created",
      thread: { id: "wake-1", agentId: "demo" },
    });
    // Pushes carry the channel's join_ref (the Phoenix client drops others).
    expect(activity[0]).toBe(socket.frames.find((f) => f[3] === "phx_reply")?.[0]);
    await tl.coordinator.idle("wake-1");
    await startRun("wake-1");
    await socket.next((f) => f[3] === "thread_metadata" && f[4].operation === "updated");
  });

  it("on join, announces the runs running then (the first-connect gap)", async () => {
    const { runId } = await startRun("long-1", { tokens: 200, delayMs: 20 });
    await waitFor(
      async () => (await tl.store.runs.get("long-1", runId))?.startSeq,
      "the run start",
    );
    const { socket } = await joined();
    const a = await socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === runId);
    expect(a[4]).toMatchObject({ threadId: "long-1", agentId: "demo" });
    await tl.cancelRun("long-1", runId);
  });

  it("on join, announces runs that started (and ended) just before", async () => {
    const { runId } = await startRun("short-1");
    await tl.coordinator.idle("short-1");
    const { socket } = await joined();
    await socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === runId);
  });

  it("answers heartbeats and refuses other topics", async () => {
    const { socket, joinCode } = await joined();
    const hb = socket.send(null, "phoenix", "heartbeat");
    const reply = await socket.next((f) => f[1] === hb);
    expect(reply).toEqual([null, hb, "phoenix", "phx_reply", { status: "ok", response: {} }]);
    expect((await socket.join("user_meta:someone-else")).status).toBe("error");
    expect((await socket.join("rooms:lobby")).status).toBe("error");
    // Joining its own topic again replaces the old join (a rejoin).
    expect((await socket.join(`user_meta:${joinCode}`)).status).toBe("ok");
  });

  it("refuses a web page of a foreign origin at the upgrade (browsers apply no CORS to sockets)", async () => {
    const { wsUrl, joinToken } = await credentials();
    const url = `${wsUrl}/websocket?join_token=${encodeURIComponent(joinToken)}&vsn=2.0.0`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { origin: "https://evil.example" } });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => reject(new Error("a foreign page opened the socket")));
      ws.once("error", reject);
    });
    expect(status).toBe(403);
    // The server's own origin (a page it served) is let in.
    const own = new WebSocket(url, { headers: { origin: server.url } });
    await new Promise<void>((resolve, reject) => {
      own.once("open", () => resolve());
      own.once("error", reject);
    });
    own.close();
  });

  it("refuses a missing, bad or expired join token at the upgrade", async () => {
    const { wsUrl } = await credentials();
    await expect(RawPhoenix.open(wsUrl, "")).rejects.toMatchObject({ status: 401 });
    await expect(RawPhoenix.open(wsUrl, "not-a-token")).rejects.toMatchObject({ status: 401 });
    const past = new JoinTokens(resolveJoinSecret({ guarded: false, logger: silentLogger }), {
      now: () => Date.now() - 3 * 24 * 3600_000,
    });
    const expired = await past.mint(past.principalOf(new Request("http://x/")));
    await expect(RawPhoenix.open(wsUrl, expired)).rejects.toMatchObject({ status: 401 });
    const foreign = new JoinTokens(Buffer.from("another deployment's key"));
    const token = await foreign.mint(foreign.principalOf(new Request("http://x/")));
    await expect(RawPhoenix.open(wsUrl, token)).rejects.toMatchObject({ status: 401 });
  });

  it("announces runs started by another instance on the same store", async () => {
    const other = createThreadline({
      store: createMemoryStore({ data }),
      agents: { demo: new DemoAgent() },
    });
    try {
      const { socket } = await joined();
      const { runId } = await other.startRun({
        threadId: "elsewhere",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 1 } } },
      });
      await socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === runId);
      await other.coordinator.idle("elsewhere");
    } finally {
      await other.close({ graceMs: 50 });
    }
  });
});

describe("CopilotKit surface: access", () => {
  it("binds a join token to its principal: another's channel is refused, others' threads never announced", async () => {
    const guarded = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      authorize: (req, ctx) => {
        const user = req.headers.get("authorization")?.replace("Bearer ", "");
        return !!user && (!ctx.threadId || ctx.threadId.startsWith(`${user}-`));
      },
      copilotkit: { secret: "a shared secret for tests" },
    });
    const srv = await guarded.listen({ port: 0 });
    try {
      const url = `${srv.url}/copilotkit`;
      const alice = await joined({ authorization: "Bearer alice" }, url);
      const bobCreds = await credentials({ authorization: "Bearer bob" }, url);
      expect(bobCreds.joinCode).not.toBe(alice.joinCode);
      // Alice's token does not open Bob's channel.
      expect((await alice.socket.join(`user_meta:${bobCreds.joinCode}`)).status).toBe("error");
      const bob = await RawPhoenix.open(bobCreds.wsUrl, bobCreds.joinToken);
      sockets.push(bob);
      expect((await bob.join(`user_meta:${bobCreds.joinCode}`)).status).toBe("ok");
      const a = await guarded.startRun({
        threadId: "alice-1",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 1 } } },
      });
      const b = await guarded.startRun({
        threadId: "bob-1",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 1 } } },
      });
      await alice.socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === a.runId);
      await bob.next((f) => f[3] === "thread_run_activity" && f[4].runId === b.runId);
      expect(bob.events("thread_run_activity").map((p) => p.threadId)).toEqual(["bob-1"]);
      expect(alice.socket.events("thread_run_activity").map((p) => p.threadId)).toEqual([
        "alice-1",
      ]);
      // Listing is filtered the same way; without credentials nothing is handed out.
      const list = (await (
        await fetch(`${url}/threads?agentId=demo`, { headers: { authorization: "Bearer bob" } })
      ).json()) as {
        threads: { id: string }[];
      };
      expect(list.threads.map((t) => t.id)).toEqual(["bob-1"]);
      expect((await fetch(`${url}/threads/subscribe`, { method: "POST", body: "{}" })).status).toBe(
        403,
      );
    } finally {
      await srv.close();
      await guarded.close({ graceMs: 50 });
    }
  });

  it("with a server token, a join token without it (or after it changed) is refused", async () => {
    const locked = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      token: "s3cret",
    });
    const srv = await locked.listen({ port: 0 });
    try {
      const url = `${srv.url}/copilotkit`;
      expect((await fetch(`${url}/threads?agentId=demo`)).status).toBe(401);
      const ok = await joined({ authorization: "Bearer s3cret" }, url);
      expect(ok.joinToken).toBeTruthy();
      const tokens = locked.copilotkit!.tokens;
      const stale = await tokens.mint(
        tokens.principalOf(new Request("http://x/", { headers: { authorization: "Bearer old" } })),
      );
      await expect(RawPhoenix.open(ok.wsUrl, stale)).rejects.toMatchObject({ status: 401 });
    } finally {
      await srv.close();
      await locked.close({ graceMs: 50 });
    }
  });
});
