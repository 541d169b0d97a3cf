import type { BaseEvent } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import { isOwnerGone } from "./instance.js";
import { trackStoredRun } from "./run-log.js";
import type { RunEnding } from "./run-tracker.js";
import type { ClaimedRun, ThreadStore } from "./store.js";
import type { RunRecord, RunStatus } from "./types.js";
import { ViewBuilder } from "./view.js";

export interface StaleRun {
  run: RunRecord;
  /** The holder is known dead (same host, process gone) though its lease has not expired. */
  force: boolean;
}

/**
 * Runs whose holder is gone: lease expired, or (same host) its process is dead. At start-up every
 * running run is a candidate (`all`), since this process holds none yet.
 */
export async function findStaleRuns(
  store: ThreadStore,
  self: string,
  now: number,
  startup: boolean,
): Promise<StaleRun[]> {
  const out: StaleRun[] = [];
  for (const run of await store.runs.listStale(now, { all: startup })) {
    const expired = !run.lease || run.lease.expiresAt <= now;
    const gone = run.lease ? isOwnerGone(run.lease.owner, self) : true;
    if (expired || gone) out.push({ run, force: gone && !expired });
  }
  return out;
}

/**
 * Takes a stale run over (bumping the fencing token, so its old holder can no longer write) and
 * closes it: END events for whatever it left open, then RUN_ERROR code INTERRUPTED, so followers
 * and the thread's queue move on. False when someone else got there first.
 */
export async function interruptRun(
  store: ThreadStore,
  stale: StaleRun,
  owner: string,
  leaseMs: number,
  now: number,
): Promise<boolean> {
  const { run, force } = stale;
  const claimed = await store.runs.takeOver(run.threadId, run.runId, {
    owner,
    leaseMs,
    now,
    force,
  });
  if (!claimed) return false;
  const message = "the process running this run stopped before it finished";
  await closeTakenRun(store, claimed, now, {
    terminal: { type: "RUN_ERROR", message, code: RUN_ERROR_INTERRUPTED } as BaseEvent,
    ending: { kind: "error", code: RUN_ERROR_INTERRUPTED, message },
    status: "interrupted",
    error: { code: RUN_ERROR_INTERRUPTED, message },
  });
  return true;
}

/**
 * Closes a run this process took over (its fence): END events for whatever it left open, then
 * `terminal`, so followers see a valid end. A run that never reached the log is only marked
 * ended with `status` (there is nothing for followers to close).
 */
export async function closeTakenRun(
  store: ThreadStore,
  claimed: ClaimedRun,
  now: number,
  end: {
    terminal: BaseEvent;
    ending: RunEnding;
    status: RunStatus;
    error?: { code: string; message: string };
  },
): Promise<void> {
  const { threadId, runId, startSeq } = claimed.run;
  if (startSeq === undefined) {
    await store.runs.markEnded(threadId, runId, { status: end.status, now, error: end.error });
    return;
  }
  const tracker = await trackStoredRun(store, threadId, runId, startSeq);
  const events = [...tracker.closingEvents(end.ending), end.terminal];
  // The closing events change the thread's messages too (a tool message for each unanswered
  // tool call): the view update goes with them, as a RunWriter's would.
  const thread = await store.threads.get(threadId);
  const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, { owned: true });
  for (const event of events) view.apply(event);
  await store.threads.append(threadId, claimed.fence, events, view.takeUpdate());
}
