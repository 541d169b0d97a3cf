import type { Interrupt } from "@ag-ui/core";
import type { RunActor, RunRecord, RunStatus, ThreadSummary, TraceParent } from "../core/types.js";

/**
 * How every backend turns what it stored back into the store's records: one mapping, so the
 * stores cannot disagree on a record's shape (an optional field is left out, never undefined).
 */

/** JSON text of a value; `undefined` (which JSON cannot hold) is stored as null. */
export function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

/** A run as stored: absent optional parts are null (SQL NULL, a missing Redis field). */
export interface StoredRun {
  runId: string;
  threadId: string;
  agentId: string;
  trigger: RunRecord["trigger"];
  status: RunStatus;
  input: RunRecord["input"];
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  startSeq: number | null;
  error: { code: string; message: string } | null;
  leaseOwner: string | null;
  leaseToken: number | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  startedBy: RunActor | null;
  cancelledBy: RunActor | null;
  trace: TraceParent | null;
}

export function runRecordOf(s: StoredRun): RunRecord {
  const run: RunRecord = {
    runId: s.runId,
    threadId: s.threadId,
    agentId: s.agentId,
    trigger: s.trigger,
    status: s.status,
    input: s.input,
    createdAt: s.createdAt,
  };
  if (s.startedAt !== null) run.startedAt = s.startedAt;
  if (s.endedAt !== null) run.endedAt = s.endedAt;
  if (s.startSeq !== null) run.startSeq = s.startSeq;
  if (s.error !== null) run.error = s.error;
  if (s.leaseOwner !== null && s.leaseToken !== null && s.leaseExpiresAt !== null) {
    run.lease = { owner: s.leaseOwner, token: s.leaseToken, expiresAt: s.leaseExpiresAt };
  }
  if (s.cancelRequested) run.cancelRequested = true;
  if (s.startedBy !== null) run.startedBy = s.startedBy;
  if (s.cancelledBy !== null) run.cancelledBy = s.cancelledBy;
  if (s.trace !== null) run.trace = s.trace;
  return run;
}

/**
 * A thread's summary columns as both SQL stores name them (the JSON ones, `metadata` and
 * `interrupts`, as the driver gives them).
 */
export interface SummaryColumns<M> {
  thread_id: string;
  created_at: number;
  updated_at: number;
  last_seq: number;
  horizon: number;
  active_run_id: string | null;
  metadata: M;
  interrupts: M;
}

/** `parse` turns a JSON column as the driver gives it into its value. */
export function summaryOfColumns<M>(
  row: SummaryColumns<M>,
  parse: (m: M) => unknown,
): ThreadSummary {
  return {
    threadId: row.thread_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
    horizon: row.horizon,
    activeRunId: row.active_run_id,
    metadata: parse(row.metadata) as Record<string, unknown>,
    interrupts: (parse(row.interrupts) as Interrupt[] | null) ?? [],
  };
}

/** A run's columns as both SQL stores name them, but for its JSON ones (see `sqlRunOf`). */
export interface RunColumns {
  thread_id: string;
  run_id: string;
  agent_id: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  start_seq: number | null;
  lease_owner: string | null;
  lease_token: number | null;
  lease_expires_at: number | null;
  cancel_requested: boolean | number;
}

/** A run from its SQL row and its JSON columns, parsed. */
export function sqlRunOf(
  row: RunColumns,
  parsed: Pick<StoredRun, "trigger" | "input" | "error" | "startedBy" | "cancelledBy" | "trace">,
): RunRecord {
  return runRecordOf({
    runId: row.run_id,
    threadId: row.thread_id,
    agentId: row.agent_id,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    startSeq: row.start_seq,
    leaseOwner: row.lease_owner,
    leaseToken: row.lease_token,
    leaseExpiresAt: row.lease_expires_at,
    cancelRequested: row.cancel_requested === true || row.cancel_requested === 1,
    ...parsed,
  });
}

/** The values of a queued run's row, in the column order both SQL stores insert them. */
export function queuedRunValues(run: RunRecord, queuePos: number) {
  const { threadId, runId, agentId, createdAt } = run;
  const startedBy = run.startedBy ? json(run.startedBy) : null;
  const trace = run.trace ? json(run.trace) : null;
  const [trigger, input] = [json(run.trigger), json(run.input)];
  return [threadId, runId, agentId, trigger, input, createdAt, queuePos, startedBy, trace] as const;
}
