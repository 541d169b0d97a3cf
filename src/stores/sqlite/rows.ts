import type { Message } from "@ag-ui/core";
import type * as T from "../../core/types.js";

import { type SummaryColumns, sqlRunOf, summaryOfColumns } from "../records.js";

/** Rows as better-sqlite3 returns them, and their mapping to the store's records. */

export interface ThreadRow extends SummaryColumns<string> {
  fence_token: number;
  state: string;
  next_position: number;
}
/** The columns of a thread's summary. */
export type SummaryRow = SummaryColumns<string>;

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
  status: T.RunStatus;
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
  trace: string | null;
}

/** The run columns a fence or lease check needs: not the input, which may be large. */
export type RunBrief = Pick<
  RunRow,
  "status" | "lease_owner" | "lease_token" | "lease_expires_at" | "cancel_requested"
>;

export function summaryOf(row: SummaryRow): T.ThreadSummary {
  return summaryOfColumns(row, (m) => JSON.parse(m));
}

export function viewOf(row: ThreadRow, messageRows: readonly { json: string }[]): T.ThreadView {
  return {
    ...summaryOf(row),
    messages: messageRows.map((m) => JSON.parse(m.json) as Message),
    state: JSON.parse(row.state) as unknown,
  };
}

export function recordOf(row: EventRow): T.EventRecord {
  return { seq: row.seq, runId: row.run_id, at: row.at, event: JSON.parse(row.event) };
}

/** A `readText` row: seq, run id, the event's JSON. */
export function textOf([seq, runId, json]: [number, string, string]): T.EventText {
  return { seq, runId, json };
}

export function runOf(row: RunRow): T.RunRecord {
  return sqlRunOf(row, {
    trigger: JSON.parse(row.trigger_json),
    input: JSON.parse(row.input_json),
    error: row.error_json === null ? null : JSON.parse(row.error_json),
    startedBy: row.started_by === null ? null : JSON.parse(row.started_by),
    cancelledBy: row.cancelled_by === null ? null : JSON.parse(row.cancelled_by),
    trace: row.trace === null ? null : JSON.parse(row.trace),
  });
}
export { json } from "../records.js";
