import type { BaseEvent } from "@ag-ui/core";
import { METADATA_KEY, RUN_ERROR_INTERRUPTED } from "../protocol.js";
import type {
  EventRecord,
  Fence,
  MultitaskStrategy,
  RunRecord,
  RunStatus,
  ThreadPatch,
  ThreadSummary,
  ThreadView,
  ViewUpdate,
} from "./types.js";

export type Unsubscribe = () => void;

/** Called with each committed batch of a thread, in seq order, after the commit. */
export type AppendListener = (records: readonly EventRecord[]) => void;

/** A run's RUN_STARTED was committed (`seq` is its seq in the thread's log). */
export interface RunStartNotice {
  threadId: string;
  runId: string;
  seq: number;
}

export type RunStartListener = (notice: RunStartNotice) => void;

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

/**
 * The one storage interface of Threadline. Backends (memory, sqlite, postgres, redis) implement
 * it and must pass the shared conformance suite (`test/conformance/store-suite.ts`). It exposes
 * no driver or transaction types; each backend owns its connection.
 *
 * Guarantees every backend provides:
 * - `seq` is per thread, starts at 1, strictly increasing and gapless, whatever the concurrency;
 * - `append` is atomic with its view update and its run bookkeeping, and is fenced: it fails
 *   with `LEASE_LOST` unless `fence` names the thread's active run and its current lease token;
 * - listeners see a batch only after it committed ("durable before visible").
 */
export interface ThreadStore {
  /** Human-readable backend name (`memory`, `sqlite`, ...). */
  readonly kind: string;

  // --- threads -------------------------------------------------------------------------------
  /** Creates the thread if missing; returns its summary. */
  ensureThread(threadId: string, metadata?: Record<string, unknown>): Promise<ThreadSummary>;
  /** The thread's materialized view, consistent with `lastSeq`; null when unknown. */
  getThread(threadId: string): Promise<ThreadView | null>;
  /** Most recently updated first. */
  listThreads(opts?: { limit?: number; offset?: number }): Promise<ThreadSummary[]>;
  /** The thread's summary without its messages and state (cheap); null when unknown. */
  head(threadId: string): Promise<ThreadSummary | null>;
  /** Applies `patch` (see `ThreadPatch`) and bumps `updatedAt`; null when the thread is unknown. */
  updateThread(threadId: string, patch: ThreadPatch): Promise<ThreadSummary | null>;
  /**
   * Removes the thread and everything tied to it in one step: its log, view, runs (and with them
   * the run ids that make schedule ticks and webhook deliveries exactly-once), queue and lease.
   * A writer still holding a fence on it gets LEASE_LOST. False when the thread is unknown. The
   * id may be used again: it then names a new, empty thread whose seqs start at 1 again.
   */
  deleteThread(threadId: string): Promise<boolean>;

  // --- the log -------------------------------------------------------------------------------
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
  /** Committed events with `seq > after`, ascending, at most `limit` (default 1000). */
  read(threadId: string, opts: { after: number; limit?: number }): Promise<EventRecord[]>;
  /** Live committed batches of one thread (from this or, for shared stores, other processes). */
  subscribe(threadId: string, listener: AppendListener): Unsubscribe;
  /**
   * Every run start on any thread — its RUN_STARTED committed by this process or, for a store
   * shared by several processes, by any of them — after the commit, once per listener. One
   * signal for the whole store (the CopilotKit run-activity wake), not a subscription per thread.
   * Best effort across processes: a notice sent while a shared store's channel was down is lost.
   */
  subscribeRunStarts(listener: RunStartListener): Unsubscribe;

  // --- runs ----------------------------------------------------------------------------------
  /**
   * Adds a queued run, atomically applying the multitask strategy against the thread's active
   * and queued runs: `reject` fails with THREAD_BUSY when any exists, `interrupt` asks the
   * active run to stop and puts the new run first in the queue, `enqueue` appends to the FIFO.
   */
  enqueueRun(run: RunRecord, strategy: MultitaskStrategy): Promise<EnqueueResult>;
  /** Starts the thread's next queued run under a new lease if no run is active. */
  claimNextRun(
    threadId: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<ClaimedRun | null>;
  /** Extends the lease; false when the fence is stale (the run was taken over or ended). */
  renewLease(
    threadId: string,
    fence: Fence,
    leaseMs: number,
    now: number,
  ): Promise<{ ok: boolean; cancelRequested: boolean }>;
  /**
   * Takes over a running run whose lease expired (or whose owner is known dead): bumps the
   * fencing token so the old holder can no longer append. Null if it is not takeable any more.
   */
  takeOverRun(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force?: boolean,
  ): Promise<ClaimedRun | null>;
  /** Ends a run that never started (queued) or whose log is already terminal. */
  markRunEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ): Promise<RunRecord | null>;
  /**
   * Cancel: a queued run ends `cancelled` at once; a running run gets `cancelRequested` (its
   * executor closes it). Returns the run after the change, or null when unknown.
   */
  requestCancel(threadId: string, runId: string): Promise<RunRecord | null>;
  getRun(threadId: string, runId: string): Promise<RunRecord | null>;
  /** Newest first, skipping the `offset` newest (for paging, like `listThreads`). */
  listRuns(threadId: string, opts?: { limit?: number; offset?: number }): Promise<RunRecord[]>;
  /** Running runs (any thread) whose lease expired before `now`, or all running when `all`. */
  listStaleRuns(now: number, opts?: { all?: boolean }): Promise<RunRecord[]>;
  /** Threads with queued runs and no active run (to restart their queue after a restart). */
  listIdleThreadsWithQueue(): Promise<string[]>;

  // --- claims and schedules ----------------------------------------------------------------
  /** True for the first caller of a key, false for every later one (exactly-once ticks). */
  claim(key: string, owner: string, now: number): Promise<boolean>;
  putSchedule<S extends ScheduleRecordBase>(schedule: S): Promise<void>;
  getSchedule<S extends ScheduleRecordBase>(id: string): Promise<S | null>;
  listSchedules<S extends ScheduleRecordBase>(): Promise<S[]>;
  deleteSchedule(id: string): Promise<boolean>;

  close(): Promise<void>;
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
