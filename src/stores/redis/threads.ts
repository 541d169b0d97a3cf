import type { Redis } from "ioredis";
import { patchedMetadata } from "../../core/thread-patch.js";
import type { EventRecord, ThreadPatch, ThreadSummary, ThreadView } from "../../core/types.js";
import type { RedisKeys } from "./keys.js";
import { ENSURE_THREAD, GET_THREAD } from "./lua-runs.js";
import { DELETE_THREAD, SET_METADATA } from "./lua-threads.js";
import { hashOf, json, recordOf, summaryOf, viewOf } from "./rows.js";

/** Threads, their log (one stream each) and their materialized view. */
export class ThreadTable {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async ensure(
    threadId: string,
    metadata: Record<string, unknown> | undefined,
    now: number,
  ): Promise<ThreadSummary> {
    const flat = (await ENSURE_THREAD.run(this.redis, this.keys.forThread(threadId), [
      threadId,
      now,
      json(metadata ?? {}),
    ])) as string[];
    return summaryOf(threadId, hashOf(flat));
  }

  /** One script, so one snapshot: messages and state match `lastSeq`. */
  async view(threadId: string): Promise<ThreadView | null> {
    const reply = (await GET_THREAD.run(this.redis, this.keys.forThread(threadId), [threadId])) as
      | [string[], (string | null)[]]
      | null;
    return reply ? viewOf(threadId, hashOf(reply[0]), reply[1]) : null;
  }

  /** The summary fields alone: the state is not read. */
  async head(threadId: string): Promise<ThreadSummary | null> {
    const [ca, ua, seq, act, meta] = await this.redis.hmget(
      this.keys.thread(threadId),
      "ca",
      "ua",
      "seq",
      "act",
      "meta",
    );
    if (ca === null || ca === undefined) return null;
    const h: Record<string, string> = { ca, ua: ua ?? ca, seq: seq ?? "0", meta: meta ?? "{}" };
    if (act) h.act = act;
    return summaryOf(threadId, h);
  }

  /**
   * Patches the metadata with the rule in core, then writes it only if nobody changed it since it
   * was read (compare and set in one script); a lost race reads and patches again.
   */
  async update(threadId: string, patch: ThreadPatch, now: number): Promise<ThreadSummary | null> {
    for (;;) {
      const current = await this.redis.hget(this.keys.thread(threadId), "meta");
      if (current === null) return null;
      const metadata = patchedMetadata(JSON.parse(current) as Record<string, unknown>, patch);
      const reply = await SET_METADATA.run(this.redis, this.keys.forThread(threadId), [
        threadId,
        current,
        json(metadata),
        now,
      ]);
      if (reply === -1) return null;
      if (Array.isArray(reply)) return summaryOf(threadId, hashOf(reply as string[]));
    }
  }

  async delete(threadId: string): Promise<boolean> {
    const reply = await DELETE_THREAD.run(this.redis, this.keys.forThread(threadId), [threadId]);
    return reply === 1;
  }

  /** Most recently updated first (the zset is scored by -updatedAt; ties by id). */
  async list(limit: number, offset: number): Promise<ThreadSummary[]> {
    if (limit <= 0) return [];
    const ids = await this.redis.zrange(
      this.keys.threads,
      String(offset),
      String(offset + limit - 1),
    );
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.thread(id));
    const replies = (await pipe.exec()) ?? [];
    const out: ThreadSummary[] = [];
    ids.forEach((id, i) => {
      const h = replies[i]?.[1] as Record<string, string> | undefined;
      if (h && h.ca !== undefined) out.push(summaryOf(id, h));
    });
    return out;
  }

  async lastSeq(threadId: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.thread(threadId), "seq")) ?? 0);
  }

  async read(threadId: string, after: number, limit: number): Promise<EventRecord[]> {
    if (limit <= 0) return [];
    const entries = (await this.redis.xrange(
      this.keys.log(threadId),
      `${after + 1}-0`,
      "+",
      "COUNT",
      limit,
    )) as [string, string[]][];
    return entries.map(recordOf);
  }
}
