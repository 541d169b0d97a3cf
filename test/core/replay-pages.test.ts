import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import type { FollowItem, LogBatch } from "../../src/core/follow-item.js";
import { REPLAY_PAGE } from "../../src/core/replay-pages.js";
import type { ThreadStore } from "../../src/core/store.js";
import { framesOf } from "../../src/http/sse-frames.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { claimedRun } from "../helpers/running-run.js";

let store: ThreadStore;
let fanout: FanOut;
afterEach(async () => {
  fanout.close();
  await store.close();
});

/** Page reads as stored text: (after, rows) of each call. */
let reads: Array<{ after: number; rows: number }>;

/** A thread "t" holding one ended run of `total` events, and page reads counted. */
async function longThread(total: number, value = "v"): Promise<void> {
  store = createMemoryStore();
  fanout = new FanOut(store);
  const fence = await claimedRun(store, "t", "r1");
  const events: BaseEvent[] = [{ type: "RUN_STARTED", threadId: "t", runId: "r1" } as BaseEvent];
  for (let i = 2; i < total; i++)
    events.push({ type: "CUSTOM", name: "n", value: `${value}${i}` } as BaseEvent);
  events.push({ type: "RUN_FINISHED", threadId: "t", runId: "r1" } as BaseEvent);
  for (let i = 0; i < events.length; i += 1000) {
    await store.threads.append("t", fence, events.slice(i, i + 1000));
  }
  reads = [];
  const readText = store.threads.readText.bind(store.threads);
  store.threads.readText = async (threadId, opts) => {
    const out = await readText(threadId, opts);
    reads.push({ after: opts.after, rows: out.length });
    return out;
  };
}

/** Every item of a follow to its end, and the batches they came in. */
async function drain(follow: Follow): Promise<{ seqs: number[]; batches: LogBatch[] }> {
  const seqs: number[] = [];
  const batches: LogBatch[] = [];
  for (;;) {
    const items: FollowItem[] | null = await follow.nextBatch();
    if (!items) return { seqs, batches };
    for (const item of items) {
      if (item.kind !== "event") continue;
      seqs.push(item.seq);
      if (item.batch && batches.at(-1) !== item.batch) batches.push(item.batch);
    }
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("replay pages", () => {
  it("concurrent replays of a range share its pages, and each gets the whole range in order", async () => {
    const total = 2 * REPLAY_PAGE + 2_345;
    await longThread(total);
    const cursors = [0, 0, 2_500];
    const follows = cursors.map(
      (after) => new Follow(store, fanout, "t", { after, replay: "full", live: false }),
    );
    for (const f of follows) await f.open();
    const got = await Promise.all(follows.map(drain));
    for (const [i, after] of cursors.entries()) {
      expect(got[i]!.seqs).toEqual(range(after + 1, total));
    }
    // Pages are aligned: the third replay's first page ends where the others' first does, and
    // from there all three get the very same page objects, so the same bytes.
    const second = (g: { batches: LogBatch[] }) =>
      g.batches.find((b) => b.first === REPLAY_PAGE + 1);
    const shared = got.map(second);
    expect(shared[0]).toBeDefined();
    expect(shared[1]).toBe(shared[0]);
    expect(shared[2]).toBe(shared[0]);
    const chunk = framesOf(shared[0]!.items)[0];
    expect(framesOf(shared[2]!.items)[0]).toBe(chunk);
    // Each complete page was read once; the tail (not complete) once per replay.
    const complete = reads.filter((r) => r.rows === REPLAY_PAGE - (r.after % REPLAY_PAGE));
    expect(complete.map((r) => r.after).sort((a, b) => a - b)).toEqual([0, 2_500, REPLAY_PAGE]);
    expect(reads.filter((r) => r.after === 2 * REPLAY_PAGE)).toHaveLength(3);
    // Nobody replays any more: nothing is kept.
    expect(fanout.pages.size).toBe(0);
  });

  it("a lone replay keeps no page once past it", async () => {
    await longThread(3 * REPLAY_PAGE);
    const f = new Follow(store, fanout, "t", { replay: "full", live: false });
    await f.open();
    const first = await f.nextBatch();
    expect(first).toHaveLength(REPLAY_PAGE);
    // The page it holds is not kept for anyone; the next one is being read ahead.
    expect(fanout.pages.size).toBeLessThanOrEqual(1);
    expect((await drain(f)).seqs).toEqual(range(REPLAY_PAGE + 1, 3 * REPLAY_PAGE));
    expect(fanout.pages.size).toBe(0);
  });

  it("a replay that is not asked for more reads at most one page ahead", async () => {
    await longThread(6 * REPLAY_PAGE);
    const f = new Follow(store, fanout, "t", { replay: "full" });
    await f.open();
    const first = await f.nextBatch();
    expect(first?.map((i) => i.seq)).toEqual(range(1, REPLAY_PAGE));
    // The page written now, and the next one read while it drains: nothing more, however long
    // the follower takes (a paused reader holds two pages, not the thread).
    expect(reads.map((r) => r.after)).toEqual([0, REPLAY_PAGE]);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(reads.map((r) => r.after)).toEqual([0, REPLAY_PAGE]);
    // Asked again, it hands over the page read ahead (no new read of it) and reads the next.
    const second = await f.nextBatch();
    expect(second?.[0]?.seq).toBe(REPLAY_PAGE + 1);
    expect(reads.map((r) => r.after)).toEqual([0, REPLAY_PAGE, 2 * REPLAY_PAGE]);
    f.close();
    expect(fanout.pages.size).toBeLessThanOrEqual(1);
  });

  it("replayed items parse their event only when read, and then as stored", async () => {
    await longThread(10, "é🎉");
    const f = new Follow(store, fanout, "t", { replay: "full", live: false });
    const items = (await f.nextBatch())!;
    expect(items.map((i) => typeof i.json)).toEqual(items.map(() => "string"));
    expect(items[3]!.event).toEqual({ type: "CUSTOM", name: "n", value: "é🎉4" });
    expect(items[3]!.event).toBe(items[3]!.event);
    expect(JSON.stringify(items[3]!.event)).toBe(items[3]!.json);
    f.close();
  });
});
