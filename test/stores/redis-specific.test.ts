import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import type { FollowItem } from "../../src/core/follow-item.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import {
  activeRun,
  custom,
  listen,
  range,
  runFinished,
  runStarted,
  seqs,
  waitFor,
} from "../conformance/store/fixtures.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const probe = await probeRedis();

describeWithService(probe, "redis store: subscriber connection and key layout", () => {
  const prefixes: string[] = [];
  const stores: ThreadStore[] = [];
  const open = async (prefix: string) => {
    const s = await createRedisStore({ url: REDIS_URL, prefix });
    stores.push(s);
    return s;
  };
  const prefix = () => {
    const p = freshPrefix("redis");
    prefixes.push(p);
    return p;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const p of prefixes.splice(0)) await dropPrefix(p);
  });

  it("compaction leaves nothing of the runs and messages it removed in the thread's keys", async () => {
    const p = prefix();
    const store = await open(p);
    const t = "compact-keys";
    for (let i = 0; i < 3; i++) {
      const { fence, run } = await activeRun(store, t);
      await store.threads.append(t, fence, [runStarted(t, run.runId)], {
        upsertMessages: [{ id: `m${i}`, role: "user", content: `${i}` }],
      });
      await store.threads.append(t, fence, [runFinished(t, run.runId)]);
    }
    await store.threads.compact(t, { horizon: 4, endedBefore: 0 });
    const admin = new Redis(REDIS_URL);
    try {
      const fields = await admin.hkeys(`${p}:runs:${t}`);
      const kept = (await store.runs.list(t)).map((r) => r.runId);
      expect(kept).toHaveLength(1);
      expect(fields.every((f) => f.startsWith(`${kept[0]}|`))).toBe(true);
      expect(await admin.zcard(`${p}:runorder:${t}`)).toBe(1);
      expect(await admin.hkeys(`${p}:msgs:${t}`)).toEqual(["m2"]);
      expect(await admin.zrange(`${p}:msgorder:${t}`, "0", "-1")).toEqual(["m2"]);
      expect(await admin.zrange(`${p}:msgseq:${t}`, "0", "-1")).toEqual(["m2"]);
      expect(await admin.xlen(`${p}:log:${t}`)).toBe(2);
    } finally {
      admin.disconnect();
    }
  });

  it("messages from before compaction existed (no msgseq entry) go at the next compaction, as on SQLite and PostgreSQL", async () => {
    const p = prefix();
    const store = await open(p);
    const t = "old-messages";
    const turn = async (i: number) => {
      const { fence, run } = await activeRun(store, t);
      await store.threads.append(t, fence, [runStarted(t, run.runId)], {
        upsertMessages: [{ id: `m${i}`, role: "user", content: `${i}` }],
      });
      return (await store.threads.append(t, fence, [runFinished(t, run.runId)]))[0]!.seq;
    };
    await turn(0);
    await turn(1);
    const admin = new Redis(REDIS_URL);
    try {
      // What an older Threadline left: the messages, but no first-written seq for them.
      await admin.del(`${p}:msgseq:${t}`);
      const end = await turn(2);
      await turn(3);
      // Keeps runs 2 and 3 by their events; the old messages count as written at seq 0.
      await store.threads.compact(t, { horizon: end - 2, endedBefore: 0 });
      expect((await store.threads.get(t))!.messages.map((m) => m.id)).toEqual(["m2", "m3"]);
      expect(await admin.zrange(`${p}:msgseq:${t}`, "0", "-1")).toEqual(["m2", "m3"]);
      expect(await admin.zrange(`${p}:msgorder:${t}`, "0", "-1")).toEqual(["m2", "m3"]);
    } finally {
      admin.disconnect();
    }
  });

  it("a subscriber whose connection drops catches up from its watermark", async () => {
    const p = prefix();
    const writer = await open(p);
    const reader = await open(p);
    const t = "sub-drop";
    const { fence } = await activeRun(writer, t);
    const got: FollowItem[] = [];
    const off = await listen(reader, t, (batch) => got.push(...batch));
    await writer.threads.append(t, fence, [custom(1), custom(2)]);
    await waitFor(() => got.length === 2, "the first records");

    const admin = new Redis(REDIS_URL);
    try {
      const subscribers = async () =>
        ((await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string)
          .split("\n")
          .filter((line) => line.includes(` name=threadline-sub:${p} `))
          .map((line) => /(?:^| )id=(\d+)/.exec(line)![1]!);
      const before = await subscribers();
      expect(before).toHaveLength(2);
      for (const id of before) await admin.call("CLIENT", "KILL", "ID", id);
      // Published while the subscribers are (most likely) away: those messages are lost.
      for (let i = 3; i <= 20; i++) await writer.threads.append(t, fence, [custom(i)]);
      await waitFor(async () => {
        const now = await subscribers();
        return now.length === 2 && now.every((id) => !before.includes(id));
      }, "both subscribers to come back");
    } finally {
      admin.disconnect();
    }
    await waitFor(() => got.length >= 20, "the records appended during the outage");
    await writer.threads.append(t, fence, [custom(21)]);
    await waitFor(() => got.length >= 21, "a record after the reconnect");
    off();
    expect(seqs(got)).toEqual(range(1, 21));
  });

  it("keeps the log in a stream with ids <seq>-0 and every key under the prefix", async () => {
    const p = prefix();
    const store = await open(p);
    const t = "layout:with:colons";
    const { fence } = await activeRun(store, t);
    await store.threads.append(t, fence, [custom(1), custom(2)], {
      upsertMessages: [{ id: "m", role: "user", content: "hi" }],
    });
    const admin = new Redis(REDIS_URL);
    try {
      const ids = (await admin.xrange(`${p}:log:${t}`, "-", "+")).map(([id]) => id);
      expect(ids).toEqual(["1-0", "2-0"]);
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await admin.scan(cursor, "MATCH", `${p}:*`, "COUNT", 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      expect(keys.length).toBeGreaterThan(5);
      expect(keys.every((k) => k.startsWith(`${p}:`))).toBe(true);
    } finally {
      admin.disconnect();
    }
  });

  it("instances of one prefix share its epoch; another epoch in the key is a loss", async () => {
    const p = prefix();
    const a = await open(p);
    const b = await open(p);
    // Two more instances, each to see the loss first through one read.
    const c = await open(p);
    const d = await open(p);
    expect(a.epoch).toBeDefined();
    expect(b.epoch).toBe(a.epoch);
    const { fence } = await activeRun(a, "t");
    await a.threads.append("t", fence, [custom(1)]);
    const lost: ThreadlineError[] = [];
    a.onDataLost?.((e) => lost.push(e));
    // What a new instance does after a flush: a new epoch. The old ones must not write on.
    const direct = new Redis(REDIS_URL);
    try {
      await direct.set(`${p}:epoch`, "another");
      const append = await a.threads.append("t", fence, [custom(2)]).catch((e: unknown) => e);
      expect(ThreadlineError.is(append, "DATA_LOST")).toBe(true);
      expect((append as ThreadlineError).status).toBe(503);
      expect(lost).toHaveLength(1);
      // Reads check it too (in their MULTI or their script), and a claim (exactly-once ticks) is
      // refused. The head and a run's record are the hot reads, one script each.
      expect(ThreadlineError.is(await c.threads.head("t").catch((e) => e), "DATA_LOST")).toBe(true);
      expect(
        ThreadlineError.is(await d.runs.get("t", fence.runId).catch((e) => e), "DATA_LOST"),
      ).toBe(true);
      expect(
        ThreadlineError.is(await b.threads.read("t", { after: 0 }).catch((e) => e), "DATA_LOST"),
      ).toBe(true);
      expect(
        ThreadlineError.is(
          await b.records.claim("k", { owner: "me", now: 1, leaseMs: 60_000 }).catch((e) => e),
          "DATA_LOST",
        ),
      ).toBe(true);
      // Once lost, always lost (until the process restarts): no round trip needed.
      await direct.set(`${p}:epoch`, a.epoch!);
      expect(ThreadlineError.is(await a.threads.head("t").catch((e) => e), "DATA_LOST")).toBe(true);
      expect(await direct.xlen(`${p}:log:t`)).toBe(1);
    } finally {
      direct.disconnect();
    }
  });
});
