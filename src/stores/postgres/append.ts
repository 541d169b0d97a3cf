import { planAppend, recordsOf } from "../../core/append-plan.js";
import { fenceHolds, leaseLost } from "../../core/run-rules.js";
import type { AppendArgs } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { announcement } from "../announcement.js";
import { runStartPayload } from "../run-start-notice.js";
import type { Queryable } from "./connection.js";
import type { RunChanges, ThreadTable } from "./threads.js";

/**
 * The fenced append, to run inside one transaction: locks the thread's row (`FOR UPDATE`), checks
 * the fence, writes the events at gapless seqs, records the run's start, ends the run on a
 * terminal event, persists the view update and queues the commit's notification — all or
 * nothing. Appends to one thread serialise on the row lock, so seqs are gapless and commits
 * happen in seq order.
 */
export async function appendInTransaction(
  db: Queryable,
  threads: ThreadTable,
  channel: string,
  [threadId, fence, events, view]: AppendArgs,
  now: number,
): Promise<EventRecord[]> {
  const locked = await threads.lock(db, threadId, fence.runId);
  const thread = locked?.head;
  const state = {
    activeRunId: thread?.active_run_id,
    fenceToken: thread?.fence_token,
    runStatus: locked?.run?.status,
  };
  if (!thread || !fenceHolds(state, fence)) throw leaseLost(threadId, fence.runId);
  const plan = planAppend(events);
  const first = thread.last_seq + 1;
  const records = recordsOf(plan, first, fence.runId, now);
  const started = plan.started;
  // The run's start and end ride on the append's statement (one round trip after the lock).
  const run: RunChanges = {};
  if (started >= 0) run.startSeq = first + started;
  if (plan.terminal) run.end = { status: plan.terminal.status, error: plan.terminal.error };
  const activeRunId = plan.terminal ? null : thread.active_run_id;
  // Messages are stamped with the batch's last seq (compaction's horizon test).
  const next = view
    ? await threads.applyMessages(
        db,
        threadId,
        thread.next_position,
        view,
        thread.last_seq + events.length,
      )
    : thread.next_position;
  const head = {
    lastSeq: thread.last_seq,
    activeRunId,
    next,
    state: view?.state,
    interrupts: view?.interrupts,
  };
  if (events.length === 0) {
    await threads.saveHead(db, threadId, head, now);
    return records;
  }
  const last = first + events.length - 1;
  await threads.saveAppend(
    db,
    threadId,
    { runId: fence.runId, first, at: now, events: plan.json },
    { ...head, lastSeq: last },
    run,
    {
      channel,
      payload: announcement(threadId, first, last),
      // The store-wide run-start signal rides the same channel (see run-start-notice.ts).
      ...(started >= 0
        ? { runStart: runStartPayload({ threadId, runId: fence.runId, seq: first + started }) }
        : {}),
    },
  );
  return records;
}
