import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import type { ThreadStore } from "../../src/core/store.js";
import { batchBytes, concatFrames, encodeFrame, framesOf } from "../../src/http/sse-frames.js";
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

describe("fan-out of a committed batch, written as SSE", () => {
  it("hands every follower the same items, written as one chunk encoded once", async () => {
    const commit = await setUp();
    const a = new Follow(store, fanout, "t", { replay: "none", weigh: batchBytes });
    const b = new Follow(store, fanout, "t", { replay: "none" });
    await a.open();
    await b.open();
    await commit(events);
    const [fromA, fromB] = await Promise.all([a.nextBatch(), b.nextBatch()]);
    expect(fromA).toHaveLength(events.length);
    expect(fromA!.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    expect(fromB![2]).toBe(fromA![2]);
    expect(fromB![0]!.batch).toBe(fromA![0]!.batch);
    const [chunk] = framesOf(fromA!);
    expect(Buffer.from(chunk!)).toEqual(Buffer.from(expected));
    // The other follower writes the very same bytes: encoded once for both.
    expect(framesOf(fromB!)).toEqual([chunk]);
    expect(framesOf(fromB!)[0]).toBe(chunk);
    a.close();
    b.close();
  });

  it("writes a batch taken in part as a view into the shared chunk", async () => {
    const commit = await setUp();
    const f = new Follow(store, fanout, "t", { replay: "none" });
    await f.open();
    await commit(events);
    const items = (await f.nextBatch())!;
    const [whole] = framesOf(items);
    // Cut at either end (a cursor inside the batch, or a batch split across reads).
    for (const part of [items.slice(1), items.slice(0, 3), items.slice(1, 2)]) {
      const frames = framesOf(part);
      expect(frames).toHaveLength(1);
      expect(frames[0]!.buffer).toBe(whole!.buffer);
      expect(Buffer.from(frames[0]!)).toEqual(
        Buffer.from(concatFrames(part.map((i) => encodeFrame(i.event, { id: i.seq })))),
      );
    }
    f.close();
  });

  it("encodes a replay page as one chunk, and the compact prefix with its cursor on the last frame", async () => {
    const commit = await setUp();
    await commit(events);
    const full = new Follow(store, fanout, "t", { after: 1, replay: "full", live: false });
    // Mid-run: the run is re-opened first, then the page.
    expect((await full.nextBatch())!.every((i) => i.kind === "reopen")).toBe(true);
    const replayed = (await full.nextBatch())!;
    expect(replayed.map((i) => i.seq)).toEqual([2, 3, 4]);
    const frames = framesOf(replayed);
    expect(frames).toHaveLength(1);
    expect(Buffer.from(frames[0]!)).toEqual(Buffer.from(expected.subarray(frameAt(1))));
    full.close();

    const compact = new Follow(store, fanout, "t", { replay: "compact", live: false });
    const prefix = (await compact.nextBatch())!;
    const text = Buffer.from(concatFrames(framesOf(prefix))).toString();
    // Snapshot and reopen frames carry their names; only the last one carries the cursor.
    expect(text.match(/^id: /gm)).toHaveLength(1);
    expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: (snapshot|reopen)\nid: 4\n/);
    compact.close();
  });
});

/** Where the frame of `events[i]` starts in `expected`. */
function frameAt(i: number): number {
  return concatFrames(events.slice(0, i).map((e, j) => encodeFrame(e, { id: j + 1 }))).byteLength;
}
