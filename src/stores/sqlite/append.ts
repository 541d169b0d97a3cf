import type { BaseEvent } from "@ag-ui/core";
import { ThreadlineError } from "../../core/errors.js";
import { errorOfTerminal, statusOfTerminal } from "../../core/store.js";
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
  if (
    !thread ||
    !run ||
    thread.active_run_id !== fence.runId ||
    thread.fence_token !== fence.token ||
    run.status !== "running"
  ) {
    throw new ThreadlineError("LEASE_LOST", `run ${fence.runId} no longer holds ${threadId}`);
  }
  let seq = thread.last_seq;
  let activeRunId: string | null = thread.active_run_id;
  const records: EventRecord[] = [];
  for (const event of events) {
    seq += 1;
    const record: EventRecord = { seq, runId: fence.runId, at: now, event };
    records.push(record);
    if (event.type === "RUN_STARTED") runs.setStartSeq(threadId, fence.runId, seq);
    if (event.type === "RUN_FINISHED" || event.type === "RUN_ERROR") {
      runs.end(threadId, fence.runId, statusOfTerminal(event), now, errorOfTerminal(event));
      activeRunId = null;
    }
  }
  threads.insertEvents(threadId, records);
  const next = view
    ? threads.applyView(threadId, thread.next_position, view, seq)
    : thread.next_position;
  threads.saveAppend(threadId, { lastSeq: seq, activeRunId, updatedAt: now, next });
  return records;
}
