/**
 * Key layout under a prefix `P`. Every name space is a distinct literal (none is a prefix of
 * another), so a thread id — which may hold any character, ':' included — cannot make two keys
 * collide.
 *
 * Per thread `T`:
 * - `P:thread:T`   hash: ca, ua (created/updated ms), seq (last seq), tok (fencing token),
 *                  act (active run id, absent when idle), meta, state (JSON), np (next message
 *                  position), rc (runs created, orders `runorder`), an (id and first seq of
 *                  the last append, which makes a resent append a no-op), hz (compaction horizon),
 *                  intr (pending interrupts, JSON; see core/interrupts.ts)
 * - `P:log:T`      stream: the event log, entry id `<seq>-0`, fields r (run id), a (ms), e (JSON)
 * - `P:msgs:T`     hash: message id → message JSON (the materialized messages)
 * - `P:msgorder:T` zset: message id scored by its position
 * - `P:msgseq:T`   zset: message id scored by the seq that first wrote it (compaction)
 * - `P:runs:T`     hash: `<runId>|<field>` → value, fields as in `RUN_FIELDS` (and `nq`, `cq`:
 *                  the ids of the enqueue and claim calls, which make their resends no-ops)
 * - `P:runorder:T` zset: run id scored by creation (listRuns is newest first)
 * - `P:queue:T`    list: queued run ids, head first
 *
 * Global:
 * - `P:threads`    zset: thread id scored by -updatedAt (listThreads order)
 * - `P:leases`     zset: JSON `[threadId, runId]` of every running run, scored by lease expiry
 * - `P:queued`     set: threads whose queue is not empty
 * - `P:intrdue`    zset: thread id scored by when its pending interrupts fall due (the due
 *                  index of interrupt expiry, `ThreadLog.interruptsDue`); absent: never
 * - `P:fencefloor` number: the highest fencing token a deleted thread held (new tokens go above)
 * - `P:epoch`      string: the keyspace's generation (see `RedisEpoch`); every script checks it
 * - `P:claim:K`    string: claim key K (`{ owner, expiresAt }`; expires with it, PX)
 * - `P:schedules`  hash: id → schedule JSON; `P:schedorder` zset: id by creation;
 *                  `P:schedseq` counter
 * - channel `P:appends`: `first:last:threadId` published by every append
 */
export class RedisKeys {
  readonly threads: string;
  readonly leases: string;
  readonly queued: string;
  readonly schedules: string;
  readonly schedOrder: string;
  readonly schedSeq: string;
  readonly channel: string;
  readonly fence: string;
  readonly epoch: string;
  readonly interruptsDue: string;

  constructor(readonly prefix: string) {
    this.threads = `${prefix}:threads`;
    this.leases = `${prefix}:leases`;
    this.queued = `${prefix}:queued`;
    this.schedules = `${prefix}:schedules`;
    this.schedOrder = `${prefix}:schedorder`;
    this.schedSeq = `${prefix}:schedseq`;
    this.channel = `${prefix}:appends`;
    this.fence = `${prefix}:fencefloor`;
    this.epoch = `${prefix}:epoch`;
    this.interruptsDue = `${prefix}:intrdue`;
  }

  thread(threadId: string): string {
    return `${this.prefix}:thread:${threadId}`;
  }

  log(threadId: string): string {
    return `${this.prefix}:log:${threadId}`;
  }

  claim(key: string): string {
    return `${this.prefix}:claim:${key}`;
  }

  runs(threadId: string): string {
    return `${this.prefix}:runs:${threadId}`;
  }

  /**
   * The KEYS of every thread-scoped script, in the order `PRELUDE` names them (`RedisEpoch.run`
   * adds the epoch key last).
   */
  forThread(threadId: string): string[] {
    const p = this.prefix;
    return [
      this.thread(threadId),
      this.log(threadId),
      `${p}:msgs:${threadId}`,
      `${p}:msgorder:${threadId}`,
      this.runs(threadId),
      `${p}:runorder:${threadId}`,
      `${p}:queue:${threadId}`,
      this.threads,
      this.leases,
      this.queued,
      this.fence,
      `${p}:msgseq:${threadId}`,
      this.interruptsDue,
    ];
  }
}

/** A run's fields in `P:runs:T`, in the order scripts return them (`runFields`). */
export const RUN_FIELDS = [
  "in",
  "st",
  "sa",
  "ea",
  "ss",
  "er",
  "lo",
  "lt",
  "le",
  "cr",
  "cb",
] as const;

export const runField = (runId: string, name: (typeof RUN_FIELDS)[number]): string =>
  `${runId}|${name}`;
