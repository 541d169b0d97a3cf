import type { Message } from "@ag-ui/core";
import type {
  EventRecord,
  RunRecord,
  RunStatus,
  ThreadSummary,
  ThreadView,
} from "../../core/types.js";

/** Rows as better-sqlite3 returns them, and their mapping to the store's records. */

export interface ThreadRow {
  thread_id: string;
  created_at: number;
  updated_at: number;
  last_seq: number;
  horizon: number;
  active_run_id: string | null;
  fence_token: number;
  metadata: string;
  state: string;
  next_position: number;
}

/** The columns of a thread's summary. */
export type SummaryRow = Pick<
  ThreadRow,
  "thread_id" | "created_at" | "updated_at" | "last_seq" | "horizon" | "active_run_id" | "metadata"
>;

/** The thread columns a write needs: not the state or metadata, which may be large. */
export type ThreadHead = Pick<
  ThreadRow,
  "last_seq" | "active_run_id" | "fence_token" | "next_position"
>;

export interface EventRow {
  seq: number;
  run_id: string;
  at: number;
  event: string;
}

export interface RunRow {
  thread_id: string;
  run_id: string;
  agent_id: string;
  trigger_json: string;
  input_json: string;
  status: RunStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  start_seq: number | null;
  error_json: string | null;
  lease_owner: string | null;
  lease_token: number | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  queue_pos: number | null;
  started_by: string | null;
  cancelled_by: string | null;
}

/** The run columns a fence or lease check needs: not the input, which may be large. */
export type RunBrief = Pick<
  RunRow,
  "status" | "lease_owner" | "lease_token" | "lease_expires_at" | "cancel_requested"
>;

export function summaryOf(row: SummaryRow): ThreadSummary {
  return {
    threadId: row.thread_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
    horizon: row.horizon,
    activeRunId: row.active_run_id,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  };
}

export function viewOf(row: ThreadRow, messageRows: readonly { json: string }[]): ThreadView {
  return {
    ...summaryOf(row),
    messages: messageRows.map((m) => JSON.parse(m.json) as Message),
    state: JSON.parse(row.state) as unknown,
  };
}

export function recordOf(row: EventRow): EventRecord {
  return { seq: row.seq, runId: row.run_id, at: row.at, event: JSON.parse(row.event) };
}

/** Optional fields are left out rather than set to undefined, as the memory store does. */
export function runOf(row: RunRow): RunRecord {
  const run: RunRecord = {
    runId: row.run_id,
    threadId: row.thread_id,
    agentId: row.agent_id,
    trigger: JSON.parse(row.trigger_json),
    status: row.status,
    input: JSON.parse(row.input_json),
    createdAt: row.created_at,
  };
  if (row.started_at !== null) run.startedAt = row.started_at;
  if (row.ended_at !== null) run.endedAt = row.ended_at;
  if (row.start_seq !== null) run.startSeq = row.start_seq;
  if (row.error_json !== null) run.error = JSON.parse(row.error_json);
  if (row.lease_owner !== null && row.lease_token !== null && row.lease_expires_at !== null) {
    run.lease = { owner: row.lease_owner, token: row.lease_token, expiresAt: row.lease_expires_at };
  }
  if (row.cancel_requested) run.cancelRequested = true;
  if (row.started_by !== null) run.startedBy = JSON.parse(row.started_by);
  if (row.cancelled_by !== null) run.cancelledBy = JSON.parse(row.cancelled_by);
  return run;
}

/** JSON text of a value; `undefined` (which JSON cannot hold) is stored as null. */
export function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}
