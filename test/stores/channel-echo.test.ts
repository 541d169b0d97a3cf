import { afterEach, describe, expect, it } from "vitest";
import type { CommitNotice, ThreadStore } from "../../src/core/store.js";
import type { EventRecord } from "../../src/core/types.js";
import { announcement } from "../../src/stores/announcement.js";
import { ChannelTail } from "../../src/stores/channel-tail.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { activeRun, custom, listen, range, seqs, waitFor } from "../conformance/store/fixtures.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import {
  describeWithService,
  PG_URL,
  probePostgres,
  probeRedis,
  REDIS_URL,
} from "../helpers/services.js";

/**
 * A shared store's channel echoes every commit to the instance that made it too, and the echo
 * can arrive before the commit's own reply. Announced as it came (no records), it sent every
 * same-instance follower to the store for records it was about to be handed; `appendLocally`
 * holds the channel's announcements of a thread while a local append to it is in flight.
 */
class TestTail extends ChannelTail {
  constructor() {
    super({ lastSeq: async () => 0 }, () => undefined);
  }
  hear(message: string): void {
    this.heard(message);
  }
}

const record = (seq: number): EventRecord => ({
  seq,
  runId: "r",
  at: 0,
  event: custom(seq),
});

describe("channel tail: the echo of a local commit", () => {
  it("is held while the append is in flight and dropped once its records were announced", async () => {
    const tail = new TestTail();
    const heard: CommitNotice[] = [];
    tail.subscribe("t", (n) => heard.push(n));
    const records = await tail.appendLocally("t", async () => {
      tail.hear(announcement("t", 1, 3)); // the echo, before the reply
      return [record(1), record(2), record(3)];
    });
    expect(seqs(records)).toEqual([1, 2, 3]);
    expect(heard).toEqual([{ lastSeq: 3, records }]);
  });

  it("is announced after the append when its records never were (a reply lost after the commit)", async () => {
    const tail = new TestTail();
    const heard: CommitNotice[] = [];
    tail.subscribe("t", (n) => heard.push(n));
    await expect(
      tail.appendLocally("t", async () => {
        tail.hear(announcement("t", 4, 6));
        throw new Error("connection lost before the reply");
      }),
    ).rejects.toThrow(/connection lost/);
    expect(heard).toEqual([{ lastSeq: 6 }]);
    // Other threads' announcements are never held.
    tail.hear(announcement("u", 1, 1));
    expect(heard).toHaveLength(1);
    const other: CommitNotice[] = [];
    tail.subscribe("u", (n) => other.push(n));
    tail.hear(announcement("u", 2, 2));
    expect(other).toEqual([{ lastSeq: 2 }]);
  });
});

/** A store whose `threads.read` calls are counted (what a live tail does when it must read). */
function countingReads(store: ThreadStore): { store: ThreadStore; reads: () => number } {
  let reads = 0;
  const threads = new Proxy(store.threads, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key === "read" && typeof value === "function") {
        return (...args: unknown[]) => {
          reads += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: { ...store, threads } as ThreadStore, reads: () => reads };
}

async function sameInstanceFollower(open: () => Promise<ThreadStore>): Promise<void> {
  const raw = await open();
  try {
    const { store, reads } = countingReads(raw);
    const t = "echo";
    const { fence } = await activeRun(raw, t);
    const got: number[] = [];
    const stop = await listen(store, t, (items) => got.push(...items.map((i) => i.seq)));
    const N = 200;
    for (let i = 1; i <= N; i++) await raw.threads.append(t, fence, [custom(i)]);
    await waitFor(() => got.length === N, "every append delivered");
    stop();
    expect(got).toEqual(range(1, N));
    // Every batch came with its own announcement: no follower read the store.
    expect(reads()).toBe(0);
  } finally {
    await raw.close();
  }
}

const pg = await probePostgres();
describeWithService(pg, "postgres store: a same-instance follower never reads", () => {
  const schemas: string[] = [];
  afterEach(async () => {
    for (const s of schemas.splice(0)) await dropSchema(s);
  });
  it("200 appends, each delivered from its own announcement", async () => {
    const schema = freshSchema("echo");
    schemas.push(schema);
    await sameInstanceFollower(() => createPostgresStore({ connectionString: PG_URL, schema }));
  });
});

const redis = await probeRedis();
describeWithService(redis, "redis store: a same-instance follower never reads", () => {
  const prefixes: string[] = [];
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await dropPrefix(p);
  });
  it("200 appends, each delivered from its own announcement", async () => {
    const prefix = freshPrefix("echo");
    prefixes.push(prefix);
    await sameInstanceFollower(() => createRedisStore({ url: REDIS_URL, prefix }));
  });
});
