import type { BaseEvent, Message } from "@ag-ui/core";
import type {
  EventRecord,
  RunActor,
  RunInput,
  RunRecord,
  RunStatus,
  RunTrigger,
  ThreadSummary,
  ThreadView,
} from "../../core/types.js";

/**
 * Rows as `pg` returns them (bigint parsed to number, json parsed by the driver), and their
 * mapping to the store's records.
 */

export interface ThreadRow {
  thread_id: string;
  created_at: number;
  updated_at: number;
  last_seq: number;
  horizon: number;
  active_run_id: string | null;
  metadata: Record<string, unknown>;
}

/** What a fenced write needs of a thread and its run, read under the thread's row lock. */
export interface ThreadHead {
  last_seq: number;
  active_run_id: string | null;
  fence_token: number;
  next_position: number;
}

export interface EventRow {
  seq: number;
  run_id: string;
  at: number;
  event: BaseEvent;
}

export interface RunRow {
  thread_id: string;
  run_id: string;
  agent_id: string;
  trigger: RunTrigger;
  input: RunInput;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  start_seq: number | null;
  error: { code: string; message: string } | null;
  lease_owner: string | null;
  lease_token: number | null;
  lease_expires_at: number | null;
  cancel_requested: boolean;
  started_by: RunActor | null;
  cancelled_by: RunActor | null;
}

/** The run columns a fence or lease check needs: not the input, which may be large. */
export type RunBrief = Pick<
  RunRow,
  "status" | "lease_owner" | "lease_token" | "lease_expires_at" | "cancel_requested"
>;

export const THREAD_COLUMNS =
  "thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata";
export const RUN_COLUMNS = `thread_id, run_id, agent_id, trigger, input, status, created_at,
  started_at, ended_at, start_seq, error, lease_owner, lease_token, lease_expires_at,
  cancel_requested, started_by, cancelled_by`;

export function summaryOf(row: ThreadRow): ThreadSummary {
  return {
    threadId: row.thread_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
    horizon: row.horizon,
    activeRunId: row.active_run_id,
    metadata: row.metadata,
  };
}

export function viewOf(
  row: ThreadRow & { state: unknown; messages: Message[] | null },
): ThreadView {
  return { ...summaryOf(row), messages: row.messages ?? [], state: row.state };
}

export function recordOf(row: EventRow): EventRecord {
  return { seq: row.seq, runId: row.run_id, at: row.at, event: row.event };
}

/** Optional fields are left out rather than set to undefined, as the memory store does. */
export function runOf(row: RunRow): RunRecord {
  const run: RunRecord = {
    runId: row.run_id,
    threadId: row.thread_id,
    agentId: row.agent_id,
    trigger: row.trigger,
    status: row.status,
    input: row.input,
    createdAt: row.created_at,
  };
  if (row.started_at !== null) run.startedAt = row.started_at;
  if (row.ended_at !== null) run.endedAt = row.ended_at;
  if (row.start_seq !== null) run.startSeq = row.start_seq;
  if (row.error !== null) run.error = row.error;
  if (row.lease_owner !== null && row.lease_token !== null && row.lease_expires_at !== null) {
    run.lease = { owner: row.lease_owner, token: row.lease_token, expiresAt: row.lease_expires_at };
  }
  if (row.cancel_requested) run.cancelRequested = true;
  if (row.started_by !== null) run.startedBy = row.started_by;
  if (row.cancelled_by !== null) run.cancelledBy = row.cancelled_by;
  return run;
}

/** JSON text for a json column; `undefined` (which JSON cannot hold) is stored as null. */
export function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}
