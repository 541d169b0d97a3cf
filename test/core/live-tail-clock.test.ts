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

describe("the live tail's retry after a failed read", () => {
  it("happens on the runtime's clock: when it advances by the retry delay, not before", async () => {
    store = createMemoryStore();
    const clock = new ManualClock(0);
    const fence = await claimedRun(store, "t", "r1");
    // Commits announced without their records (as another process's are): the tail reads them.
    const subscribe = store.threads.subscribe.bind(store.threads);
    store.threads.subscribe = (threadId, listener) =>
      subscribe(threadId, (notice) => listener({ lastSeq: notice.lastSeq }));
    // The first read fails (the store is briefly unreachable), later ones answer.
    const read = store.threads.read.bind(store.threads);
    let reads = 0;
    store.threads.read = async (threadId, opts) => {
      reads += 1;
      if (reads === 1) throw new Error("store unreachable");
      return read(threadId, opts);
    };
    const errors: unknown[] = [];
    const batches: number[][] = [];
    tail = new LiveTail(store, "t", (b) => batches.push(b.items.map((i) => i.seq)), {
      clock,
      onError: (error) => errors.push(error),
    });
    await tail.ready;

    await store.threads.append("t", fence, events);
    await waitFor(() => reads === 1 && errors.length === 1, "the failed read");
    // The retry waits on the clock, nowhere else.
    expect(clock.pending).toBe(1);
    await clock.advance(LIVE_TAIL_RETRY_MS - 1);
    expect(reads).toBe(1);
    expect(batches).toEqual([]);

    await clock.advance(1);
    expect(reads).toBe(2);
    expect(batches).toEqual([[1, 2]]);
    expect(clock.pending).toBe(0);
  });

  it("is dropped when the tail closes", async () => {
    store = createMemoryStore();
    const clock = new ManualClock(0);
    const fence = await claimedRun(store, "t", "r1");
    const subscribe = store.threads.subscribe.bind(store.threads);
    store.threads.subscribe = (threadId, listener) =>
      subscribe(threadId, (notice) => listener({ lastSeq: notice.lastSeq }));
    let reads = 0;
    store.threads.read = async () => {
      reads += 1;
      throw new Error("store unreachable");
    };
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
    expect(reads).toBe(1);
  });
});
