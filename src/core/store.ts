import type { BaseEvent } from "@ag-ui/core";
import { METADATA_KEY, RUN_ERROR_INTERRUPTED } from "../protocol.js";
import type { CompactionResult, CompactionStep } from "./compaction.js";
import type { ThreadlineError } from "./errors.js";
import type {
  EventRecord,
  EventText,
  Fence,
  MultitaskStrategy,
  RunActor,
  RunRecord,
  RunStatus,
  ThreadPatch,
  ThreadSummary,
  ThreadView,
  ViewUpdate,
} from "./types.js";

export type Unsubscribe = () => void;

/**
 * A commit announcement of one thread: its log is committed up to `lastSeq`. `records` come
 * with it when the store has them in hand (its own commit): ascending and contiguous, ending at
 * `lastSeq`. Notices may be late, repeated, merged or out of order (a reconnected channel
 * re-announces); ordering, dedup and filling holes from `read` are the live tail's job, once,
 * in core (`src/core/live-tail.ts`), not the store's.
 */
export interface CommitNotice {
  lastSeq: number;
  records?: readonly EventRecord[];
}

/** Told of a thread's commits (see `CommitNotice`). */
export type CommitListener = (notice: CommitNotice) => void;

/** A run's RUN_STARTED was committed (`seq` is its seq in the thread's log). */
export interface RunStartNotice {
  threadId: string;
  runId: string;
  seq: number;
}

export type RunStartListener = (notice: RunStartNotice) => void;

/** Told once, with the `DATA_LOST` error, that the store lost data it had acknowledged. */
export type DataLossListener = (error: ThreadlineError) => void;

/** A thread whose pending interrupts fall due at `dueAt` (see `ThreadLog.interruptsDue`). */
export interface InterruptsDue {
  threadId: string;
  dueAt: number;
}

export interface EnqueueOptions {
  /**
   * The ids, in order, of the pending interrupts the run was checked against (`checkResume`);
   * `[]` for a run that answers none. The store refuses (INTERRUPTS_PENDING) when the thread's
   * are others, atomically with the enqueue: two answers racing (a person and the expiry) cannot
   * both be accepted, and a run that answers none needs no head read first.
   */
  interrupts?: readonly string[];
}

export interface EnqueueResult {
  run: RunRecord;
  /** The active run that was asked to stop (multitask `interrupt`). */
  interrupted?: string;
}

export interface ClaimedRun {
  run: RunRecord;
  fence: Fence;
}

export interface ScheduleRecordBase {
  id: string;
  [key: string]: unknown;
}

/** What a lease is asked for: who holds it, for how long, from when (the caller's clock). */
export interface LeaseTerm {
  leaseMs: number;
  now: number;
}

export interface LeaseRequest extends LeaseTerm {
  /** The instance that will hold the lease (`host:pid:nonce`, see `instance.ts`). */
  owner: string;
}

/** How a run ended, for `RunQueue.markEnded`. */
export interface RunOutcome {
  status: RunStatus;
  now: number;
  error?: { code: string; message: string };
}

/**
 * Threads and their logs: the events, the materialized view kept with them, live commits.
 *
 * - `seq` is per thread, starts at 1, strictly increasing and gapless, whatever the concurrency;
 * - `append` is atomic with its view update and its run bookkeeping, and is fenced: it fails
 *   with `LEASE_LOST` unless `fence` names the thread's active run and its current lease token;
 * - a commit is announced only after it committed ("durable before visible").
 */
export interface ThreadLog {
  /** Creates the thread if missing; returns its summary. */
  ensure(threadId: string, metadata?: Record<string, unknown>): Promise<ThreadSummary>;
  /** The thread's materialized view, consistent with `lastSeq`; null when unknown. */
  get(threadId: string): Promise<ThreadView | null>;
  /** The thread's summary without its messages and state (cheap); null when unknown. */
  head(threadId: string): Promise<ThreadSummary | null>;
  /** Most recently updated first. */
  list(opts?: { limit?: number; offset?: number }): Promise<ThreadSummary[]>;
  /**
   * At most `limit` threads whose id comes after `after` ("" from the start), in the store's own
   * id order (an index walk): a cursor that visits every thread once however they are updated
   * meanwhile, for a pass over all of them (the retention sweep). Optional: the sweep pages
   * `list` otherwise (which updates reorder, and whose offset costs grow with it).
   */
  listAfter?(after: string, limit: number): Promise<ThreadSummary[]>;
  /** Applies `patch` (see `ThreadPatch`) and bumps `updatedAt`; null when the thread is unknown. */
  update(threadId: string, patch: ThreadPatch): Promise<ThreadSummary | null>;
  /**
   * Removes the thread and everything tied to it in one step: its log, view, runs (and with them
   * the run ids that make schedule ticks and webhook deliveries exactly-once), queue and lease.
   * A writer still holding a fence on it gets LEASE_LOST. False when the thread is unknown. The
   * id may be used again: it then names a new, empty thread whose seqs start at 1 again.
   */
  delete(threadId: string): Promise<boolean>;
  /**
   * Appends events of the fenced run in one transaction, with the view update. An appended
   * RUN_STARTED records the run's `startSeq`; an appended RUN_FINISHED / RUN_ERROR ends the run
   * (status from `statusOfTerminal`) and frees the thread, in the same transaction.
   */
  append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]>;
  /**
   * Removes the history up to `step.horizon` (events, the messages they wrote, the ended runs'
   * records; see `CompactionResult` for the exact rule) and raises the thread's horizon, in one
   * step. The horizon never goes down; `updatedAt` does not move. Null when the thread is unknown.
   */
  compact(threadId: string, step: CompactionStep): Promise<CompactionResult | null>;
  /**
   * Makes the space of rows that `compact` and `delete` removed reusable, for a store that does
   * not reuse it by itself (PostgreSQL: a plain `VACUUM` of its tables — not FULL, so it locks
   * nothing appends or reads need; outside any transaction). Stores that reuse freed space on
   * their own (SQLite's free pages, Redis, memory) leave it out. The retention sweep calls it
   * after it removed `reclaimAfterRows` rows (`retention-sweep.ts`).
   */
  reclaim?(): Promise<void>;
  /**
   * Committed events with `seq > after`, ascending, at most `limit` (default 1000). After a
   * compaction the first one may be above `after + 1` (never below the horizon + 1).
   */
  read(threadId: string, opts: { after: number; limit?: number }): Promise<EventRecord[]>;
  /**
   * What `read` returns, with each event as its stored JSON text instead of parsed (the replay
   * path writes it into SSE frames as is: no parse, no re-encoding).
   */
  readText(threadId: string, opts: { after: number; limit?: number }): Promise<EventText[]>;
  /**
   * The due index of interrupt expiry: threads whose pending interrupts fall due, as the last
   * view update that changed them said (`ViewUpdate.interrupts.dueAt`; the rule is core's,
   * `interrupt-expiry.ts`), earliest first (ties by thread id), at most `limit` (default 100),
   * only those due at or before `until` when given. A deleted thread is not listed.
   */
  interruptsDue(opts?: { until?: number; limit?: number }): Promise<InterruptsDue[]>;
  /**
   * Announces the thread's commits (this process's or, for a shared store, any process's):
   * after each commit, every listener is told a `lastSeq` at or beyond it, at least once, and
   * whatever `read` returns up to that seq is committed. A throwing listener starves no other.
   */
  subscribe(threadId: string, listener: CommitListener): Unsubscribe;
  /**
   * Every run start on any thread — its RUN_STARTED committed by this process or, for a store
   * shared by several processes, by any of them — after the commit, once per listener. One
   * signal for the whole store (the CopilotKit run-activity wake), not a subscription per thread.
   * Best effort across processes: a notice sent while a shared store's channel was down is lost.
   */
  subscribeRunStarts(listener: RunStartListener): Unsubscribe;
}

/** `ThreadLog.append`'s parameters, for backends: `append(...[threadId, fence, events, view]: AppendArgs)`. */
export type AppendArgs = Parameters<ThreadLog["append"]>;

/** Runs: the per-thread FIFO queue, multitask strategies, leases and their fencing tokens. */
export interface RunQueue {
  /**
   * Adds a queued run, atomically applying the multitask strategy against the thread's active
   * and queued runs: `reject` fails with THREAD_BUSY when any exists, `interrupt` asks the
   * active run to stop and puts the new run first in the queue, `enqueue` appends to the FIFO.
   * A run id the thread already has fails with CONFLICT. Creates the thread if missing. With
   * `interrupts`, a thread whose pending interrupts are others refuses it with
   * INTERRUPTS_PENDING (`decideEnqueue`), atomically with the enqueue.
   */
  enqueue(
    run: RunRecord,
    strategy: MultitaskStrategy,
    opts?: EnqueueOptions,
  ): Promise<EnqueueResult>;
  /** Starts the thread's next queued run under a new lease if no run is active. */
  claimNext(threadId: string, lease: LeaseRequest): Promise<ClaimedRun | null>;
  /** Extends the lease; `ok: false` when the fence is stale (the run was taken over or ended). */
  renew(
    threadId: string,
    fence: Fence,
    term: LeaseTerm,
  ): Promise<{ ok: boolean; cancelRequested: boolean }>;
  /**
   * Takes over a running run whose lease expired (or, with `force`, whose owner is known dead):
   * a new fencing token, so the old holder can no longer append. Null if it is not takeable.
   */
  takeOver(
    threadId: string,
    runId: string,
    lease: LeaseRequest & { force?: boolean },
  ): Promise<ClaimedRun | null>;
  /** Ends a run that never started (queued) or whose log is already terminal. */
  markEnded(threadId: string, runId: string, end: RunOutcome): Promise<RunRecord | null>;
  /**
   * Cancel: a queued run ends `cancelled` at once; a running run gets `cancelRequested` (its
   * executor closes it). `by` is recorded as the run's `cancelledBy` unless one is already (an
   * ended run is left as it is). Returns the run after the change, or null when unknown.
   */
  requestCancel(threadId: string, runId: string, by?: RunActor): Promise<RunRecord | null>;
  get(threadId: string, runId: string): Promise<RunRecord | null>;
  /** Newest first, skipping the `offset` newest (for paging, like `ThreadLog.list`). */
  list(threadId: string, opts?: { limit?: number; offset?: number }): Promise<RunRecord[]>;
  /**
   * The `startSeq` of the thread's `n`-th newest started run (ordered by `startSeq`, 1 = the
   * newest; the rule: `nthNewestStartSeq` in retention.ts), or null when fewer than `n` runs
   * started. Retention's `keepRuns` boundary without reading run records; optional (the sweep
   * reads the runs instead).
   */
  nthNewestStartSeq?(threadId: string, n: number): Promise<number | null>;
  /** Running runs (any thread) whose lease expired before `now`, or all running when `all`. */
  listStale(now: number, opts?: { all?: boolean }): Promise<RunRecord[]>;
  /** Threads with queued runs and no active run (to restart their queue after a restart). */
  idleThreadsWithQueue(): Promise<string[]>;
}

/** Exactly-once claims and schedule records. */
export interface RecordStore {
  /**
   * True for the first caller of a key, false for every later one (exactly-once ticks) until
   * `claim.now + claim.leaseMs`: a claim is a lease nobody renews. Past that time the key may be
   * claimed again, and the store removes expired claims (and expired leases) as it goes, so keys
   * that are claimed once each (a tick, an interrupt) do not pile up for the life of the store.
   */
  claim(key: string, claim: LeaseRequest): Promise<boolean>;
  /**
   * A named lease (one holder at a time across instances, e.g. the retention sweep): takes or
   * renews `key` for `lease.owner` until `now + leaseMs` when `leaseAvailable` (run-rules.ts)
   * allows it, atomically; false when another owner holds it. Keys live beside the claims' (use
   * a `lease:` prefix); the lease is never released, it expires.
   */
  lease(key: string, lease: LeaseRequest): Promise<boolean>;
  putSchedule<S extends ScheduleRecordBase>(schedule: S): Promise<void>;
  getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null>;
  listSchedules<S extends ScheduleRecordBase>(): Promise<S[]>;
  deleteSchedule(id: string): Promise<boolean>;
}

/**
 * The storage of Threadline, split by concern. Backends (memory, sqlite, postgres, redis)
 * implement it and must pass the shared conformance suite (`test/conformance/store-suite.ts`).
 * It exposes no driver or transaction types; each backend owns its connection.
 */
export interface ThreadStore {
  /** Human-readable backend name (`memory`, `sqlite`, ...). */
  readonly kind: string;
  readonly threads: ThreadLog;
  readonly runs: RunQueue;
  readonly records: RecordStore;
  /**
   * The generation of the store's data, for a store that can lose it without noticing by itself
   * (Redis without persistence): a follower's cursor is only meaningful within one epoch.
   */
  readonly epoch?: string;
  /**
   * Such a store detected that its data is gone: every operation now fails with `DATA_LOST`.
   * The listener is called once (at once if the loss is already known).
   */
  onDataLost?(listener: DataLossListener): Unsubscribe;
  close(): Promise<void>;
}

/** How many records a `read` returns when it does not say, and threads or runs a list does. */
export const DEFAULT_READ_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

/**
 * A limit or offset as every store applies it: a non-negative integer, `fallback` when missing.
 * (SQLite would read a negative LIMIT as "no limit"; PostgreSQL refuses one.)
 */
export function count(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(0, Math.floor(value));
}

/** `limit` and `offset` of a list (threads, runs) as every store applies them. */
export function listWindow(opts: { limit?: number; offset?: number } = {}): {
  limit: number;
  offset: number;
} {
  return { limit: count(opts.limit, DEFAULT_LIST_LIMIT), offset: count(opts.offset, 0) };
}

/** `until` (null: any time) and `limit` of `ThreadLog.interruptsDue` as every store applies them. */
export function dueWindow(opts: { until?: number; limit?: number } = {}): {
  until: number | null;
  limit: number;
} {
  const until = opts.until === undefined || Number.isNaN(opts.until) ? null : opts.until;
  return {
    until: until === Number.POSITIVE_INFINITY ? null : until,
    limit: count(opts.limit, 100),
  };
}

/** `after` and `limit` of a log read as every store applies them. */
export function readWindow(opts: { after: number; limit?: number }): {
  after: number;
  limit: number;
} {
  return { after: count(opts.after, 0), limit: count(opts.limit, DEFAULT_READ_LIMIT) };
}

/** The RUN_FINISHED that closes a run as cancelled (`statusOfTerminal` reads it back). */
export function cancelledTerminal(threadId: string, runId: string, reason: string): BaseEvent {
  return {
    type: "RUN_FINISHED",
    threadId,
    runId,
    metadata: { [METADATA_KEY]: { outcome: "cancelled", reason } },
  } as BaseEvent;
}

/** The status a terminal event gives its run. */
export function statusOfTerminal(event: BaseEvent): RunStatus {
  if (event.type === "RUN_ERROR") {
    return (event as { code?: string }).code === RUN_ERROR_INTERRUPTED ? "interrupted" : "failed";
  }
  const meta = (event as { metadata?: Record<string, unknown> }).metadata?.[METADATA_KEY] as
    | { outcome?: string }
    | undefined;
  return meta?.outcome === "cancelled" ? "cancelled" : "succeeded";
}

export function errorOfTerminal(event: BaseEvent): { code: string; message: string } | undefined {
  if (event.type !== "RUN_ERROR") return undefined;
  const e = event as { code?: string; message?: string };
  return { code: e.code ?? "ERROR", message: e.message ?? "" };
}
