import type { BaseEvent } from "@ag-ui/core";
import { ThreadlineError } from "../../core/errors.js";
import { errorOfTerminal, statusOfTerminal } from "../../core/store.js";
import type { EventRecord, Fence, ViewUpdate } from "../../core/types.js";
import { runStartPayload } from "../run-start-notice.js";
import { announcement } from "../watermark-tail.js";
import type { Queryable } from "./connection.js";
import { json } from "./rows.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

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
  runs: RunTable,
  channel: string,
  threadId: string,
  fence: Fence,
  events: readonly BaseEvent[],
  view: ViewUpdate | undefined,
  now: number,
): Promise<EventRecord[]> {
  const locked = await threads.lock(db, threadId, fence.runId);
  const thread = locked?.head;
  if (
    !thread ||
    locked.run?.status !== "running" ||
    thread.active_run_id !== fence.runId ||
    thread.fence_token !== fence.token
  ) {
    throw new ThreadlineError("LEASE_LOST", `run ${fence.runId} no longer holds ${threadId}`);
  }
  const first = thread.last_seq + 1;
  const records: EventRecord[] = events.map((event, i) => ({
    seq: first + i,
    runId: fence.runId,
    at: now,
    event,
  }));
  let activeRunId: string | null = thread.active_run_id;
  const started = events.findIndex((e) => e.type === "RUN_STARTED");
  if (started >= 0) await runs.setStartSeq(db, threadId, fence.runId, first + started);
  const terminal = events.find((e) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR");
  if (terminal) {
    const status = statusOfTerminal(terminal);
    await runs.end(db, threadId, fence.runId, status, now, errorOfTerminal(terminal));
    activeRunId = null;
  }
  const next = view
    ? await threads.applyView(
        db,
        threadId,
        thread.next_position,
        view,
        thread.last_seq + events.length,
      )
    : thread.next_position;
  if (events.length === 0) {
    await threads.saveHead(db, threadId, {
      lastSeq: thread.last_seq,
      activeRunId,
      next,
      updatedAt: now,
    });
    return records;
  }
  const last = first + events.length - 1;
  await threads.saveAppend(
    db,
    threadId,
    // Serialised now: the caller may change its objects later, the log must not change.
    { runId: fence.runId, first, at: now, events: events.map(json) },
    { lastSeq: last, activeRunId, next },
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
