import type { BaseEvent } from "@ag-ui/core";
import { planAppend, recordsOf } from "../../core/append-plan.js";
import { fenceHolds, leaseLost } from "../../core/run-rules.js";
import type { EventRecord, Fence, ViewUpdate } from "../../core/types.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * The fenced append, to run inside one IMMEDIATE transaction: checks the fence, writes the
 * events at gapless seqs, records the run's start, ends the run on a terminal event and
 * persists the view update — all or nothing.
 */
export function appendInTransaction(
  threads: ThreadTable,
  runs: RunTable,
  threadId: string,
  fence: Fence,
  events: readonly BaseEvent[],
  view: ViewUpdate | undefined,
  now: number,
): EventRecord[] {
  const thread = threads.head(threadId);
  const run = thread ? runs.brief(threadId, fence.runId) : undefined;
  const state = {
    activeRunId: thread?.active_run_id,
    fenceToken: thread?.fence_token,
    runStatus: run?.status,
  };
  if (!thread || !fenceHolds(state, fence)) throw leaseLost(threadId, fence.runId);
  const plan = planAppend(events);
  const records = recordsOf(plan, thread.last_seq + 1, fence.runId, now);
  let activeRunId: string | null = thread.active_run_id;
  if (plan.started >= 0) runs.setStartSeq(threadId, fence.runId, records[plan.started]!.seq);
  if (plan.terminal) {
    runs.end(threadId, fence.runId, plan.terminal.status, now, plan.terminal.error);
    activeRunId = null;
  }
  threads.insertEvents(threadId, records, plan.json);
  // The view's messages are stamped with the batch's last seq (compaction's horizon test).
  const lastSeq = thread.last_seq + records.length;
  const next = view
    ? threads.applyView(threadId, thread.next_position, view, lastSeq)
    : thread.next_position;
  threads.saveAppend(threadId, { lastSeq, activeRunId, updatedAt: now, next });
  return records;
}
