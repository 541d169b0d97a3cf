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
  TraceParent,
} from "../../core/types.js";

import { type SummaryColumns, sqlRunOf, summaryOfColumns } from "../records.js";

/**
 * Rows as `pg` returns them (bigint parsed to number, json parsed by the driver), and their
 * mapping to the store's records.
 */

export type ThreadRow = SummaryColumns<Record<string, unknown>>;

/** What a fenced write needs of a thread and its run, read under the thread's row lock. */
export interface ThreadHead {
  last_seq: number;
  active_run_id: string | null;
  fence_token: number;
  next_position: number;
  /** The pending interrupts' ids, in order (when the lock was asked for them). */
  interrupt_ids?: string[];
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
  trace: TraceParent | null;
}

/** The run columns a fence or lease check needs: not the input, which may be large. */
export type RunBrief = Pick<
  RunRow,
  "status" | "lease_owner" | "lease_token" | "lease_expires_at" | "cancel_requested"
>;

export const THREAD_COLUMNS =
  "thread_id, created_at, updated_at, last_seq, horizon, active_run_id, metadata, interrupts";
export const RUN_COLUMNS = `thread_id, run_id, agent_id, trigger, input, status, created_at,
  started_at, ended_at, start_seq, error, lease_owner, lease_token, lease_expires_at,
  cancel_requested, started_by, cancelled_by, trace`;

export function summaryOf(row: ThreadRow): ThreadSummary {
  return summaryOfColumns(row, (m) => m);
}

export function viewOf(
  row: ThreadRow & { state: unknown; messages: Message[] | null },
): ThreadView {
  return { ...summaryOf(row), messages: row.messages ?? [], state: row.state };
}

export function recordOf(row: EventRow): EventRecord {
  return { seq: row.seq, runId: row.run_id, at: row.at, event: row.event };
}

export function runOf(row: RunRow): RunRecord {
  return sqlRunOf(row, {
    trigger: row.trigger,
    input: row.input,
    error: row.error,
    startedBy: row.started_by,
    cancelledBy: row.cancelled_by,
    trace: row.trace,
  });
}
export { json } from "../records.js";
