import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { LIVE_TAIL_RETRY_MS, LiveTail } from "../../src/core/live-tail.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { claimedRun } from "../helpers/running-run.js";
import { waitFor } from "../helpers/wait-for.js";

const events = [
  { type: "RUN_STARTED", threadId: "t", runId: "r1" },
  { type: "CUSTOM", name: "n", value: 1 },
] as BaseEvent[];

let store: ThreadStore;
let tail: LiveTail | undefined;
afterEach(async () => {
  tail?.close();
  await store.close();
});

/**
 * A memory store whose commits are announced without their records (as another process's are),
 * so the tail reads them, and whose reads fail while `failing(n)` says so (the n-th read).
 */
async function remoteStore(failing: (read: number) => boolean) {
  store = createMemoryStore();
  const fence = await claimedRun(store, "t", "r1");
  const subscribe = store.threads.subscribe.bind(store.threads);
  store.threads.subscribe = (threadId, listener) =>
    subscribe(threadId, (notice) => listener({ lastSeq: notice.lastSeq }));
  const read = store.threads.read.bind(store.threads);
  const counts = { reads: 0 };
  store.threads.read = async (threadId, opts) => {
    counts.reads += 1;
    if (failing(counts.reads)) throw new Error("store unreachable");
    return read(threadId, opts);
  };
  return { fence, counts };
}

describe("the live tail's retry after a failed read", () => {
  it("happens on the runtime's clock: when it advances by the retry delay, not before", async () => {
    const clock = new ManualClock(0);
    // The first read fails (the store is briefly unreachable), later ones answer.
    const { fence, counts } = await remoteStore((n) => n === 1);
    const errors: unknown[] = [];
    const batches: number[][] = [];
    tail = new LiveTail(store, "t", (b) => batches.push(b.items.map((i) => i.seq)), {
      clock,
      onError: (error) => errors.push(error),
    });
    await tail.ready;

    await store.threads.append("t", fence, events);
    await waitFor(() => counts.reads === 1 && errors.length === 1, "the failed read");
    // The retry waits on the clock, nowhere else.
    expect(clock.pending).toBe(1);
    await clock.advance(LIVE_TAIL_RETRY_MS - 1);
    expect(counts.reads).toBe(1);
    expect(batches).toEqual([]);

    await clock.advance(1);
    expect(counts.reads).toBe(2);
    expect(batches).toEqual([[1, 2]]);
    expect(clock.pending).toBe(0);
  });

  it("is dropped when the tail closes", async () => {
    const clock = new ManualClock(0);
    const { fence, counts } = await remoteStore(() => true);
    const errors: unknown[] = [];
    tail = new LiveTail(store, "t", () => undefined, {
      clock,
      onError: (error) => errors.push(error),
    });
    await tail.ready;
    await store.threads.append("t", fence, events);
    await waitFor(() => errors.length === 1, "the failed read");
    expect(clock.pending).toBe(1);
    tail.close();
    expect(clock.pending).toBe(0);
    await clock.advance(10 * LIVE_TAIL_RETRY_MS);
    expect(counts.reads).toBe(1);
  });
});
