import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type FollowStatus,
  followThread,
  ThreadlineClient,
  ThreadlineError,
} from "../../src/client/index.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { Collector, type Loopback, serverLog, startLoopback } from "./loopback.js";

const fast = { initialMs: 20, maxMs: 200 };
let servers: Loopback[] = [];
let aborts: AbortController[] = [];

beforeEach(() => {
  GateAgent.reset();
});
afterEach(async () => {
  for (const a of aborts) a.abort();
  for (const s of servers.reverse()) await s.close();
  servers = [];
  aborts = [];
});

async function server(opts: Parameters<typeof startLoopback>[0] = {}): Promise<Loopback> {
  const s = await startLoopback(opts);
  servers.push(s);
  return s;
}

function follow(url: string, threadId: string, opts: Parameters<typeof followThread>[2] = {}) {
  const abort = new AbortController();
  aborts.push(abort);
  const statuses: FollowStatus[] = [];
  const collector = new Collector(
    followThread(url, threadId, {
      backoff: fast,
      signal: abort.signal,
      onStatus: (s) => statuses.push(s),
      ...opts,
    }),
  );
  return { collector, statuses, abort };
}

const demoRun = (i: number, tokens = 4) => ({
  agentId: "demo",
  multitask: "enqueue" as const,
  messages: [{ id: `u${i}`, role: "user" as const, content: `question ${i}` }],
  forwardedProps: { demo: { tokens, delayMs: 1 } },
});

/** Log events only (no synthetic frames) must be exactly the server's log from `from` on. */
async function expectExactlyTheLog(s: Loopback, threadId: string, c: Collector, from = 1) {
  const log = (await serverLog(s.tl, threadId)).filter((r) => r.seq >= from);
  const got = c.items.filter((i) => i.kind === "event");
  expect(got.map((i) => i.seq)).toEqual(log.map((r) => r.seq));
  expect(got.map((i) => i.event)).toEqual(log.map((r) => r.event));
}

describe("followThread over loopback HTTP", () => {
  it("receives every run started after it attached, across several runs", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    const { collector, statuses } = follow(s.url, "t");
    await waitFor(() => statuses.some((x) => x.state === "open"), "the stream to open");
    for (let i = 0; i < 3; i++) await client.startRun("t", demoRun(i));
    await collector.until((c) => c.count("RUN_FINISHED") === 3, "three runs");
    await verifyWithAgUi(collector.events);
    await expectExactlyTheLog(s, "t", collector);
    expect(collector.count("RUN_STARTED")).toBe(3);
  });

  it("ends, without reconnecting, when the thread is deleted", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    const { collector, statuses } = follow(s.url, "t");
    await client.startRun("t", demoRun(0));
    await collector.until((c) => c.count("RUN_FINISHED") === 1, "the run");
    await s.tl.deleteThread("t");
    await collector.done;
    expect(collector.error).toBeUndefined();
    expect(statuses.filter((x) => x.state === "connecting")).toHaveLength(1);
    expect(statuses.some((x) => x.state === "reconnecting")).toBe(false);
  });

  it("resumes from a compacted-away cursor: a reset snapshot that says so, then every later event", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    for (let i = 0; i < 2; i++) await client.startRun("t", demoRun(i));
    await waitFor(
      async () =>
        (await s.tl.store.runs.list("t")).filter((r) => r.status === "succeeded").length === 2,
      "two runs",
    );
    const { lastSeq } = (await s.tl.store.threads.head("t"))!;
    await s.tl.store.threads.compact("t", { horizon: lastSeq, endedBefore: 0 });
    const { collector, statuses } = follow(s.url, "t", { after: 3 });
    await collector.until((c) => c.count("RUN_FINISHED") === 1, "the reset snapshot");
    await client.startRun("t", demoRun(2));
    await collector.until((c) => c.count("RUN_FINISHED") === 2, "the next run");
    const reset = { after: 3, horizon: lastSeq };
    expect(statuses.find((x) => x.state === "open")).toMatchObject({ resumed: true, reset });
    const snapshot = collector.items.filter((i) => i.kind === "snapshot");
    expect(snapshot.length).toBeGreaterThan(0);
    expect(snapshot.every((i) => i.seq === lastSeq && i.reset?.horizon === lastSeq)).toBe(true);
    await verifyWithAgUi(collector.events);
    await expectExactlyTheLog(s, "t", collector, lastSeq + 1);
    expect(statuses.some((x) => x.state === "reconnecting")).toBe(false);
  });

  it("survives a server restart mid-run with no gap and no duplicate", async () => {
    // A short lease: the restarted process takes the dead one's run over once it expires.
    const a = await server({ leaseMs: 400 });
    const client = new ThreadlineClient({ baseUrl: a.url });
    await client.createThread({ threadId: "t" });
    const { collector, statuses } = follow(a.url, "t");
    await client.startRun("t", demoRun(0));
    await collector.until((c) => c.count("RUN_FINISHED") === 1, "the first run");

    // A second run is streaming when the process "crashes": its HTTP server goes away and its
    // runtime never writes again.
    await a.tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m-crash", "half ", "an ");
    await collector.until((c) => c.count("TEXT_MESSAGE_CONTENT") >= 6, "the gate run's text");
    await a.crash();

    // Restart on the same data and port: recovery closes the dead process's run.
    const b = await server({ data: a.data, port: a.port, leaseMs: 400 });
    await collector.until((c) => c.count("RUN_ERROR") === 1, "the dead process's run to be closed");
    await client.startRun("t", demoRun(1));
    await collector.until((c) => c.count("RUN_FINISHED") === 2, "a run after the restart");

    const errors = collector.items.filter((i) => i.event.type === "RUN_ERROR");
    expect(errors.map((i) => (i.event as { code?: string }).code)).toEqual(["INTERRUPTED"]);
    // Written by the restarted process's recovery, while this follower was disconnected.
    expect(errors[0]!.event).toMatchObject({ message: expect.stringContaining("stopped before") });
    expect(statuses.some((x) => x.state === "reconnecting")).toBe(true);
    expect(statuses.filter((x) => x.state === "open").at(-1)).toMatchObject({ resumed: true });
    await verifyWithAgUi(collector.events);
    await expectExactlyTheLog(b, "t", collector);
  });

  it("drops reopen frames when it resumes mid-run from its cursor", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    const { collector, statuses } = follow(s.url, "t");
    await waitFor(() => statuses.some((x) => x.state === "open"), "the stream to open");
    await s.tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "one ");
    await collector.until((c) => c.count("TEXT_MESSAGE_CONTENT") === 1, "the first delta");

    s.dropConnections();
    await waitFor(() => statuses.filter((x) => x.state === "open").length === 2, "a reconnection");
    run.text("m2", "two");
    run.emit({ type: "TEXT_MESSAGE_END", messageId: "m1" } as never);
    run.emit({ type: "TEXT_MESSAGE_END", messageId: "m2" } as never);
    run.finish();
    await collector.until((c) => c.count("RUN_FINISHED") === 1, "the run to finish");

    expect(collector.items.filter((i) => i.kind !== "event")).toEqual([]);
    expect(collector.count("RUN_STARTED")).toBe(1);
    await verifyWithAgUi(collector.events);
    await expectExactlyTheLog(s, "t", collector);
  });

  it("a fresh follow of a busy thread starts with a snapshot and reopens the live run", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.startRun("t", demoRun(0));
    await s.tl.coordinator.idle("t");
    await s.tl.startRun({ threadId: "t", agentId: "gate", multitask: "enqueue" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m-live", "partial ");
    await waitFor(
      async () => (await serverLog(s.tl, "t")).at(-1)?.event.type === "TEXT_MESSAGE_CONTENT",
      "the partial text to be stored",
    );
    const lastSeq = (await serverLog(s.tl, "t")).at(-1)!.seq;

    const { collector } = follow(s.url, "t");
    await collector.until((c) => c.count("TEXT_MESSAGE_START") === 1, "the reopened message");
    run.emit(
      { type: "TEXT_MESSAGE_CONTENT", messageId: "m-live", delta: "answer" } as never,
      { type: "TEXT_MESSAGE_END", messageId: "m-live" } as never,
    );
    run.finish();
    await collector.until((c) => c.count("RUN_FINISHED") === 2, "the live run to finish");

    const kinds = collector.items.map((i) => i.kind);
    expect(kinds.slice(0, 6)).toEqual([
      "snapshot",
      "snapshot",
      "snapshot",
      "snapshot",
      "reopen",
      "reopen",
    ]);
    expect(collector.items.slice(0, 6).every((i) => i.seq === lastSeq)).toBe(true);
    await verifyWithAgUi(collector.events);
    await expectExactlyTheLog(s, "t", collector, lastSeq + 1);
  });

  it("ends when aborted, and leaving the loop closes the connection", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    const { collector, statuses, abort } = follow(s.url, "t");
    await waitFor(() => statuses.some((x) => x.state === "open"), "the stream to open");
    expect(s.tl.fanout.followerCount("t")).toBe(1);
    abort.abort();
    await collector.done;
    expect(collector.error).toBeUndefined();
    await waitFor(() => s.tl.fanout.followerCount("t") === 0, "the server to drop the follower");

    await client.startRun("t", demoRun(0));
    let seen = 0;
    for await (const item of client.follow("t")) {
      seen += 1;
      if (item.event.type === "RUN_STARTED") break;
    }
    expect(seen).toBeGreaterThan(0);
    await waitFor(() => s.tl.fanout.followerCount("t") === 0, "the second follower to go");
  });

  it("throws errors no retry can fix as ThreadlineError", async () => {
    const s = await server({ token: "secret" });
    const unknown = new ThreadlineClient({ baseUrl: s.url, token: "secret" }).follow("nope");
    const notFound = await unknown.next().catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(ThreadlineError);
    expect(notFound).toMatchObject({ code: "THREAD_NOT_FOUND", status: 404 });

    const anonymous = followThread(s.url, "nope");
    await expect(anonymous.next()).rejects.toMatchObject({ code: "UNAUTHORIZED", status: 401 });

    await new ThreadlineClient({ baseUrl: s.url, token: "secret" }).createThread({
      threadId: "t",
    });
    const beyond = followThread(s.url, "t", {
      after: 99,
      headers: { authorization: "Bearer secret" },
    });
    await expect(beyond.next()).rejects.toMatchObject({ code: "BAD_REQUEST", status: 400 });
  });

  it("retries 5xx answers with backoff and keeps its cursor", async () => {
    const s = await server();
    const client = new ThreadlineClient({ baseUrl: s.url });
    await client.createThread({ threadId: "t" });
    await client.startRun("t", demoRun(0));
    await s.tl.coordinator.idle("t");
    let calls = 0;
    const urls: string[] = [];
    const flaky = async (input: string, init?: RequestInit) => {
      calls += 1;
      urls.push(input);
      if (calls <= 2) {
        return new Response(JSON.stringify({ error: { code: "UNAVAILABLE", message: "busy" } }), {
          status: 503,
          headers: { "content-type": "application/json" },
        });
      }
      return fetch(input, init);
    };
    const { collector, statuses } = follow(s.url, "t", { after: 2, fetch: flaky });
    await collector.until((c) => c.count("RUN_FINISHED") === 1, "the replay after two 503s");
    const waits = statuses.filter((x) => x.state === "reconnecting");
    expect(waits.map((x) => x.state === "reconnecting" && x.failures)).toEqual([1, 2]);
    expect(urls.every((u) => u.includes("after=2") && u.includes("replay=full"))).toBe(true);
    await expectExactlyTheLog(s, "t", collector, 3);
  });
});
