import type { BaseEvent } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import { isOwnerGone } from "./instance.js";
import { trackStoredRun } from "./run-log.js";
import { startedInput } from "./run-start.js";
import type { RunEnding } from "./run-tracker.js";
import { RunWriter } from "./run-writer.js";
import type { ClaimedRun, ThreadStore } from "./store.js";
import { type RunRecord, type RunStatus, TERMINAL_RUN_STATUSES } from "./types.js";
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
 * closes it as INTERRUPTED (see `closeTakenRun`), so followers and the thread's queue move on.
 * False when someone else got there first.
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
  await closeTakenRun(
    store,
    claimed,
    now,
    interruptedEnd("the process running this run stopped before it finished"),
  );
  return true;
}

/** How a run cut off by its infrastructure (process death, store failure) ends. */
export function interruptedEnd(message: string): RunEnd {
  return {
    terminal: { type: "RUN_ERROR", message, code: RUN_ERROR_INTERRUPTED } as BaseEvent,
    ending: { kind: "error", code: RUN_ERROR_INTERRUPTED, message },
    status: "interrupted",
    error: { code: RUN_ERROR_INTERRUPTED, message },
  };
}

export interface RunEnd {
  terminal: BaseEvent;
  ending: RunEnding;
  status: RunStatus;
  error?: { code: string; message: string };
}

/**
 * Closes a run this process holds (its fence: taken over, or still its own after a failed
 * append), from its log as stored — the truth after a crash or an append that may or may not
 * have committed: END events for whatever it left open, then `terminal`, so followers see a
 * valid end. A run none of whose events reached the log gets its RUN_STARTED first, so its input
 * message lands in the thread and followers learn it existed. Throws what the store throws
 * (LEASE_LOST when the run ended or was taken over meanwhile).
 */
export async function closeTakenRun(
  store: ThreadStore,
  claimed: ClaimedRun,
  _now: number,
  end: RunEnd,
): Promise<void> {
  const { threadId, runId } = claimed.run;
  const run = (await store.runs.get(threadId, runId)) ?? claimed.run;
  if (TERMINAL_RUN_STATUSES.has(run.status)) return;
  // The closing events change the thread's messages too (the prompt of a run that never
  // started, a tool message for each unanswered tool call): the writer folds them into the view
  // and commits its update with them, as for any run.
  const thread = await store.threads.get(threadId);
  const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, { owned: true });
  const tracker =
    run.startSeq === undefined
      ? undefined
      : await trackStoredRun(store, threadId, runId, run.startSeq);
  let failure: { error: unknown } | undefined;
  const writer = new RunWriter({
    store,
    threadId,
    fence: claimed.fence,
    view,
    ...(tracker ? { tracker } : {}),
    onFatal: (error) => {
      failure = { error };
    },
  });
  if (!tracker) writer.start(startedInput(run, view), run.trigger, run.agentId);
  writer.close(end.terminal, end.ending);
  await writer.flushed();
  if (failure) throw failure.error;
}
