import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import { concatFrames, encodeFrame } from "../../src/core/sse.js";
import type { ThreadStore } from "../../src/core/store.js";
import { framesOf } from "../../src/http/sse.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { claimedRun } from "../helpers/running-run.js";

const runId = "r1";
const events = [
  { type: "RUN_STARTED", threadId: "t", runId },
  { type: "TEXT_MESSAGE_START", messageId: "m", role: "assistant" },
  { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "hello" },
  { type: "TEXT_MESSAGE_END", messageId: "m" },
] as BaseEvent[];

let store: ThreadStore;
let fanout: FanOut;
afterEach(async () => {
  fanout.close();
  await store.close();
});

/** A thread with one running run, and a way to commit a batch of its events. */
async function setUp() {
  store = createMemoryStore();
  fanout = new FanOut(store);
  const fence = await claimedRun(store, "t", runId);
  return (batch: BaseEvent[]) => store.threads.append("t", fence, batch);
}

const expected = concatFrames(events.map((e, i) => encodeFrame(e, { id: i + 1 })));

describe("fan-out of a committed batch", () => {
  it("hands every follower the same items, their frames views into one chunk", async () => {
    const commit = await setUp();
    const a = new Follow(store, fanout, "t", { replay: "none" });
    const b = new Follow(store, fanout, "t", { replay: "none" });
    await a.open();
    await b.open();
    await commit(events);
    const [fromA, fromB] = await Promise.all([a.nextBatch(), b.nextBatch()]);
    expect(fromA).toHaveLength(events.length);
    expect(fromA!.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    expect(fromB![2]).toBe(fromA![2]);
    const shared = fromA![0]!.batch!;
    expect(Buffer.from(shared.frame)).toEqual(Buffer.from(expected));
    expect(Buffer.from(concatFrames(fromA!.map((i) => i.frame)))).toEqual(Buffer.from(expected));
    for (const item of fromA!) expect(item.frame.buffer).toBe(shared.frame.buffer);
    a.close();
    b.close();
  });

  it("writes a batch taken whole as its shared chunk, a batch taken in part item by item", async () => {
    const commit = await setUp();
    const f = new Follow(store, fanout, "t", { replay: "none" });
    await f.open();
    await commit(events);
    const items = (await f.nextBatch())!;
    const shared = items[0]!.batch!;
    expect(framesOf(items)).toEqual([shared.frame]);
    // Cut at either end (a cursor inside the batch, or a batch split across reads).
    expect(framesOf(items.slice(1))).toEqual(items.slice(1).map((i) => i.frame));
    expect(framesOf(items.slice(0, 3))).toEqual(items.slice(0, 3).map((i) => i.frame));
    for (const frames of [framesOf(items), framesOf(items.slice(1))]) {
      const bytes = Buffer.from(concatFrames(frames));
      expect(expected.subarray(expected.byteLength - bytes.byteLength)).toEqual(
        new Uint8Array(bytes),
      );
    }
    f.close();
  });
});
