import type { CompactionResult, CompactionStep } from "../../core/compaction.js";
import type * as Store from "../../core/store.js";
import { dueWindow, listWindow, readWindow } from "../../core/store.js";

import { patchedMetadata } from "../../core/thread-patch.js";
import type {
  EventRecord,
  EventText,
  ThreadPatch,
  ThreadSummary,
  ThreadView,
} from "../../core/types.js";
import { appendScript } from "./append.js";
import type { RedisEpoch } from "./epoch.js";
import type { RedisKeys } from "./keys.js";
import type { RedisLiveTail } from "./live-tail.js";
import { ENSURE_THREAD, GET_THREAD } from "./lua-runs.js";
import { COMPACT, DELETE_THREAD, SET_METADATA } from "./lua-threads.js";
import { hashOf, json, recordOf, summaryOf, textOf, viewOf } from "./rows.js";

/** The thread hash fields a head reads. */
const HEAD_FIELDS = ["ca", "ua", "seq", "act", "meta", "hz", "intr"];

/**
 * The Redis `ThreadLog`: threads, their logs (one stream each) and their materialized views.
 * Every write is one Lua script (atomic, ordered with every other command on the server). Live
 * delivery: see `RedisLiveTail`.
 */
export class RedisThreadLog implements Store.ThreadLog {
  constructor(
    private readonly epoch: RedisEpoch,
    private readonly keys: RedisKeys,
    private readonly tail: RedisLiveTail,
  ) {}

  async ensure(threadId: string, metadata?: Record<string, unknown>): Promise<ThreadSummary> {
    const flat = (await this.epoch.run(ENSURE_THREAD, this.keys.forThread(threadId), [
      threadId,
      Date.now(),
      json(metadata ?? {}),
    ])) as string[];
    return summaryOf(threadId, hashOf(flat));
  }

  /** One script, so one snapshot: messages and state match `lastSeq`. */
  async get(threadId: string): Promise<ThreadView | null> {
    const reply = (await this.epoch.run(GET_THREAD, this.keys.forThread(threadId), [threadId])) as
      | [string[], (string | null)[]]
      | null;
    return reply ? viewOf(threadId, hashOf(reply[0]), reply[1]) : null;
  }

  /** The summary fields alone (`HEAD_FIELDS`): the state is not read. */
  async head(threadId: string): Promise<ThreadSummary | null> {
    const fields = await this.epoch.hmget(this.keys.thread(threadId), HEAD_FIELDS);
    const [ca, ua, seq, act, meta, hz, intr] = fields;
    if (ca === null || ca === undefined) return null;
    const h: Record<string, string> = {
      ca,
      ua: ua ?? ca,
      seq: seq ?? "0",
      meta: meta ?? "{}",
      hz: hz ?? "0",
    };
    if (act) h.act = act;
    if (intr) h.intr = intr;
    return summaryOf(threadId, h);
  }

  /**
   * Patches the metadata with the rule in core, then writes it only if nobody changed it since it
   * was read (compare and set in one script); a lost race reads and patches again.
   */
  async update(threadId: string, patch: ThreadPatch): Promise<ThreadSummary | null> {
    for (;;) {
      const now = Date.now();
      const [meta] = await this.epoch.exec((m) => m.hget(this.keys.thread(threadId), "meta"));
      const current = meta as string | null;
      if (current === null) return null;
      const metadata = patchedMetadata(JSON.parse(current) as Record<string, unknown>, patch);
      const reply = await this.epoch.run(SET_METADATA, this.keys.forThread(threadId), [
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
    const reply = await this.epoch.run(DELETE_THREAD, this.keys.forThread(threadId), [threadId]);
    return reply === 1;
  }

  async compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null> {
    const reply = (await this.epoch.run(COMPACT, this.keys.forThread(threadId), [
      threadId,
      Math.floor(step.horizon),
      step.endedBefore,
    ])) as [number, number, number, number] | null;
    if (!reply) return null;
    const [horizon, events, messages, runs] = reply.map(Number) as [number, number, number, number];
    return { horizon, events, messages, runs };
  }

  /** Most recently updated first (the zset is scored by -updatedAt; ties by id). */
  async list(opts: { limit?: number; offset?: number } = {}): Promise<ThreadSummary[]> {
    const { limit, offset } = listWindow(opts);
    if (limit <= 0) return [];
    const [reply] = await this.epoch.exec((m) =>
      m.zrange(this.keys.threads, String(offset), String(offset + limit - 1)),
    );
    const ids = reply as string[];
    if (ids.length === 0) return [];
    const replies = await this.epoch.exec((m) => {
      for (const id of ids) m.hgetall(this.keys.thread(id));
    });
    const out: ThreadSummary[] = [];
    ids.forEach((id, i) => {
      const h = replies[i] as Record<string, string> | undefined;
      if (h && h.ca !== undefined) out.push(summaryOf(id, h));
    });
    return out;
  }

  /** The `P:intrdue` zset, by score (ties by member: the thread id). */
  async interruptsDue(opts?: { until?: number; limit?: number }): Promise<Store.InterruptsDue[]> {
    const { until, limit } = dueWindow(opts);
    if (limit <= 0) return [];
    const [reply] = await this.epoch.exec((m) =>
      m.zrangebyscore(
        this.keys.interruptsDue,
        "-inf",
        until === null ? "+inf" : String(until),
        "WITHSCORES",
        "LIMIT",
        0,
        limit,
      ),
    );
    const flat = reply as string[];
    const out: Store.InterruptsDue[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ threadId: flat[i]!, dueAt: Number(flat[i + 1]) });
    }
    return out;
  }

  async append(...[threadId, fence, events, view]: Store.AppendArgs): Promise<EventRecord[]> {
    const now = Date.now();
    // Announced after the script ran: durable (as far as Redis persistence goes) before visible.
    return this.tail.appendLocally(threadId, () =>
      appendScript(this.epoch, this.keys, [threadId, fence, events, view], now),
    );
  }

  subscribe(threadId: string, listener: Store.CommitListener): Store.Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  subscribeRunStarts(listener: Store.RunStartListener): Store.Unsubscribe {
    return this.tail.subscribeRunStarts(listener);
  }

  async read(threadId: string, opts: { after: number; limit?: number }): Promise<EventRecord[]> {
    const { after, limit } = readWindow(opts);
    return (await logEntries(this.epoch, this.keys, threadId, after, limit)).map(recordOf);
  }

  async readText(threadId: string, opts: { after: number; limit?: number }): Promise<EventText[]> {
    const { after, limit } = readWindow(opts);
    return (await logEntries(this.epoch, this.keys, threadId, after, limit)).map(textOf);
  }
}

/** The thread's last seq (0 when unknown): what the live tail starts from. */
export async function lastSeqOf(epoch: RedisEpoch, keys: RedisKeys, threadId: string) {
  const [seq] = await epoch.exec((m) => m.hget(keys.thread(threadId), "seq"));
  return Number((seq as string | null) ?? 0);
}

/** Log entries after `after` (XRANGE from the next entry id), at most `limit`. */
async function logEntries(
  epoch: RedisEpoch,
  keys: RedisKeys,
  threadId: string,
  after: number,
  limit: number,
): Promise<[string, string[]][]> {
  if (limit <= 0) return [];
  const [entries] = await epoch.exec((m) =>
    m.xrange(keys.log(threadId), `${after + 1}-0`, "+", "COUNT", limit),
  );
  return entries as [string, string[]][];
}
