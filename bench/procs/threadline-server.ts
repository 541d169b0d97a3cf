/**
 * The server under test: `createThreadline(...).listen()` in its own process, driven over IPC
 * (create threads, seed history, start runs, count followers, profile). Followers connect over
 * real HTTP from the load generator process.
 */
import type { ThreadStore } from "../../src/core/store.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { ScriptedAgent } from "../lib/agents.js";
import { serveRpc } from "../lib/children.js";
import { startProfile, stopProfile } from "../lib/profile.js";
import { scratchDir } from "../lib/scratch.js";
import { now } from "../lib/script.js";
import { seedThreadline } from "../lib/seed.js";
import { openStore, type SharedNamespace, storeLocation } from "../lib/stores.js";
import { scaleCommands } from "./scale-commands.js";

let tl: Threadline | undefined;
let store: ThreadStore | undefined;
/** Store reads since the last `counters` call: followers replaying or catching up after lag. */
const reads = { calls: 0, records: 0 };

/** Counts the store's reads (the fan-out's slow path) without changing what they return. */
function countReads(s: ThreadStore): ThreadStore {
  const counted =
    <A extends unknown[], R extends readonly unknown[]>(read: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const out = await read(...args);
      reads.calls++;
      reads.records += out.length;
      return out;
    };
  s.threads.read = counted(s.threads.read.bind(s.threads));
  // Replay pages are read as stored text.
  s.threads.readText = counted(s.threads.readText.bind(s.threads));
  return s;
}
const scratch = scratchDir("server");

function need(): Threadline {
  if (!tl) throw new Error("call start first");
  return tl;
}

serveRpc({
  /** `shared`: open that schema / key prefix with other instances (the scale-out scenario). */
  async start(a: { store: string; keepaliveMs?: number; shared?: SharedNamespace }) {
    if (tl) throw new Error("already started: call stop first");
    store = countReads(await openStore(a.store, scratch, a.shared));
    tl = createThreadline({
      store,
      agents: { scripted: new ScriptedAgent() },
      ...(a.keepaliveMs === undefined ? {} : { keepaliveMs: a.keepaliveMs }),
    });
    const l = await tl.listen({ port: 0 });
    return { url: l.url, pid: process.pid, location: storeLocation(store) };
  },
  async ensureThread(a: { threadId: string }) {
    await need().store.threads.ensure(a.threadId);
    return true;
  },
  async seed(a: { threadId: string; runs: number; events: number; compact: boolean }) {
    const t0 = now();
    await seedThreadline(need().store, a.threadId, a);
    const thread = await need().store.threads.get(a.threadId);
    return { ms: now() - t0, lastSeq: thread?.lastSeq ?? 0 };
  },
  followers: (a: { threadId?: string }) => need().fanout.followerCount(a.threadId),
  counters: () => {
    const out = { ...reads };
    reads.calls = 0;
    reads.records = 0;
    return out;
  },
  /** Starts a run (like a schedule tick would) and returns at once with its start time. */
  async run(a: { threadId: string; events: number; rate?: number }) {
    const t0 = now();
    const r = await need().startRun({
      threadId: a.threadId,
      agentId: "scripted",
      multitask: "enqueue",
      trigger: { kind: "schedule", scheduleId: "bench" },
      input: { forwardedProps: { bench: { events: a.events, rate: a.rate } } },
    });
    return { t0, runId: r.runId };
  },
  async idle(a: { threadId: string }) {
    await need().coordinator.idle(a.threadId);
    return now();
  },
  async cancel(a: { threadId: string; runId: string }) {
    await need().cancelRun(a.threadId, a.runId);
    return true;
  },
  gc: () => {
    globalThis.gc?.();
    return process.memoryUsage();
  },
  /** Writes a V8 heap snapshot (after GC) for memory investigations. */
  heapSnapshot: async (a: { file: string }) => {
    globalThis.gc?.();
    const { writeHeapSnapshot } = await import("node:v8");
    return writeHeapSnapshot(a.file);
  },
  /** Closes the server and its store, so the next `start` can open another namespace. */
  async stop() {
    const t = tl;
    tl = undefined;
    store = undefined;
    await t?.close({ graceMs: 1000 });
    return true;
  },
  ...scaleCommands(need),
  profileStart: () => startProfile(),
  profileStop: (a: { file: string }) => stopProfile(a.file),
});
