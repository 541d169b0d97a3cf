import type { BaseEvent } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { FanOut } from "../../../src/core/fanout.js";
import { Follow } from "../../../src/core/follow.js";
import type { FollowItem } from "../../../src/core/follow-item.js";
import { chunkOf } from "../../../src/http/sse-frames.js";
import { activeRun, custom, runFinished, runStarted, type SuiteContext, uid } from "./fixtures.js";

/**
 * Events whose JSON text is easy to get subtly different: non-ASCII and astral characters, the
 * separators JSON leaves raw (U+2028/9), escapes, integer-like keys (objects order them first),
 * numbers JSON writes in exponent form, deep nesting, a `__proto__` key, empty containers.
 */
const tricky = (): BaseEvent[] => [
  custom("plain"),
  custom("héllo wörld — ünïcødé ✓ 日本語 🎉👩‍👩‍👧"),
  custom('line\u2028sep\u2029para\ttab\nnewline\r"quote" back\\slash \u0001\u001f'),
  custom({ b: 1, a: 2, 10: "ten", 2: "two", "-1": "minus" }),
  custom([1e21, 1e-7, -0, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -1.5e300, 2 ** 70]),
  custom({ deep: { er: { still: [{ x: [[[]]], y: {} }, null, true, false, ""] } } }),
  custom(JSON.parse('{"__proto__": {"polluted": 1}, "ok": "yes"}')),
  { type: "TEXT_MESSAGE_CONTENT", messageId: "m😀", delta: "</script><!-- &amp; -->" } as BaseEvent,
];

/** The stored JSON text of each event (`readText`), and its SSE frames, live and replayed. */
export function storedTextTests(ctx: SuiteContext): void {
  describe("events as stored text (replay without parsing)", () => {
    it("readText gives each event's JSON as JSON.stringify writes it, with read's records", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence, run } = await activeRun(store, t);
      const events = [runStarted(t, run.runId), ...tricky(), runFinished(t, run.runId)];
      await store.threads.append(t, fence, events.slice(0, 3));
      await store.threads.append(t, fence, events.slice(3));
      const records = await store.threads.read(t, { after: 0 });
      const texts = await store.threads.readText(t, { after: 0 });
      expect(texts.map(({ seq, runId }) => ({ seq, runId }))).toEqual(
        records.map(({ seq, runId }) => ({ seq, runId })),
      );
      // The canonical encoding: the text is what stringifying the event (as read) gives, and
      // what stringifying the event as the agent produced it gave.
      expect(texts.map((x) => x.json)).toEqual(records.map((r) => JSON.stringify(r.event)));
      expect(texts.map((x) => x.json)).toEqual(events.map((e) => JSON.stringify(e)));
      // The same window rules as read: after, limit, an unknown thread.
      expect((await store.threads.readText(t, { after: 3, limit: 2 })).map((x) => x.seq)).toEqual([
        4, 5,
      ]);
      expect(await store.threads.readText(t, { after: events.length })).toEqual([]);
      expect(await store.threads.readText(uid("missing"), { after: 0 })).toEqual([]);
    });

    it("a replayed event's SSE frame is byte for byte its live frame", async () => {
      const store = ctx.store();
      const t = uid("t");
      const { fence, run } = await activeRun(store, t);
      const fanout = new FanOut(store);
      try {
        const live = new Follow(store, fanout, t, { replay: "none" });
        await live.open();
        const events = [runStarted(t, run.runId), ...tricky(), runFinished(t, run.runId)];
        await store.threads.append(t, fence, events.slice(0, 4));
        await store.threads.append(t, fence, events.slice(4));
        const liveItems = await take(live, events.length);
        live.close();
        // A live item of this process's own commit carries the JSON it was committed as (its
        // frame takes it as is); either way that is the text stringifying its event gives.
        for (const i of liveItems)
          expect(i.json ?? JSON.stringify(i.event)).toBe(JSON.stringify(i.event));

        const replay = new Follow(store, fanout, t, { replay: "full", live: false });
        const replayed = await take(replay, events.length);
        expect(await replay.nextBatch()).toBeNull();
        // Replayed from the stored text, never re-encoded...
        expect(replayed.every((i) => typeof i.json === "string")).toBe(true);
        // ...and the same bytes, frame by frame and as one chunk.
        for (const [i, item] of replayed.entries()) {
          expect(Buffer.from(chunkOf([item])).toString()).toBe(
            Buffer.from(chunkOf([liveItems[i]!])).toString(),
          );
        }
        expect(Buffer.from(chunkOf(replayed))).toEqual(Buffer.from(chunkOf(liveItems)));
        // An in-process follower still gets the events as objects.
        expect(replayed.map((i) => i.event)).toEqual(liveItems.map((i) => i.event));
      } finally {
        fanout.close();
      }
    });

    it("readText starts above the horizon of a compacted thread, as read does", async () => {
      const store = ctx.store();
      const t = uid("t");
      const first = await activeRun(store, t);
      await store.threads.append(t, first.fence, [
        runStarted(t, first.run.runId),
        custom("gone"),
        runFinished(t, first.run.runId),
      ]);
      const second = await activeRun(store, t);
      await store.threads.append(t, second.fence, [
        runStarted(t, second.run.runId),
        custom("kept"),
      ]);
      await store.threads.compact(t, { horizon: 3, endedBefore: 0 });
      const texts = await store.threads.readText(t, { after: 0 });
      expect(texts.map((x) => x.seq)).toEqual([4, 5]);
      expect(texts.map((x) => JSON.parse(x.json))).toEqual(
        (await store.threads.read(t, { after: 0 })).map((r) => r.event),
      );
    });
  });
}

/** The next `n` items of a follow. */
async function take(follow: Follow, n: number): Promise<FollowItem[]> {
  const out: FollowItem[] = [];
  while (out.length < n) {
    const batch = await follow.nextBatch();
    if (!batch) throw new Error(`the follow ended after ${out.length} of ${n} items`);
    out.push(...batch);
  }
  return out;
}
