import type { BaseEvent } from "@ag-ui/core";
import { RUN_ERROR_INTERRUPTED } from "../protocol.js";
import { isOwnerGone } from "./instance.js";
import { trackStoredRun } from "./run-log.js";
import { startedInput } from "./run-start.js";
import { RunWriter } from "./run-writer.js";
import type { ThreadStore } from "./store.js";
import { type Fence, type RunRecord, TERMINAL_RUN_STATUSES } from "./types.js";
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
  for (const run of await store.listStaleRuns(now, { all: startup })) {
    const expired = !run.lease || run.lease.expiresAt <= now;
    const gone = run.lease ? isOwnerGone(run.lease.owner, self) : true;
    if (expired || gone) out.push({ run, force: gone && !expired });
  }
  return out;
}

/**
 * Takes a stale run over (bumping the fencing token, so its old holder can no longer write) and
 * closes it (see `closeHeldRun`), so followers and the thread's queue move on. False when
 * someone else got there first.
 */
export async function interruptRun(
  store: ThreadStore,
  stale: StaleRun,
  owner: string,
  leaseMs: number,
  now: number,
): Promise<boolean> {
  const { run, force } = stale;
  const claimed = await store.takeOverRun(run.threadId, run.runId, owner, leaseMs, now, force);
  if (!claimed) return false;
  await closeHeldRun(
    store,
    claimed.run,
    claimed.fence,
    "the process running this run stopped before it finished",
  );
  return true;
}

/**
 * Ends a run whose lease `fence` holds, from its log as stored — the truth after a crash or a
 * failed append, which may or may not have committed: END events for whatever it left open,
 * then RUN_ERROR code INTERRUPTED. A run none of whose events reached the log first gets its
 * RUN_STARTED, so its input message lands in the thread and followers learn it existed. Throws
 * what the store throws (LEASE_LOST when the run ended or was taken over meanwhile).
 */
export async function closeHeldRun(
  store: ThreadStore,
  run: RunRecord,
  fence: Fence,
  message: string,
): Promise<void> {
  const { threadId, runId } = run;
  const current = (await store.getRun(threadId, runId)) ?? run;
  if (TERMINAL_RUN_STATUSES.has(current.status)) return;
  const error = { type: "RUN_ERROR", message, code: RUN_ERROR_INTERRUPTED } as BaseEvent;
  const thread = await store.getThread(threadId);
  const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {}, { owned: true });
  if (current.startSeq === undefined) {
    let failed: unknown;
    const writer = new RunWriter({
      store,
      threadId,
      fence,
      view,
      onFatal: (e) => {
        failed = e;
      },
    });
    writer.start(startedInput(current, view), current.trigger, current.agentId);
    writer.fail(message, RUN_ERROR_INTERRUPTED);
    await writer.flushed();
    if (failed !== undefined) throw failed;
    return;
  }
  const tracker = await trackStoredRun(store, threadId, runId, current.startSeq);
  const events = [
    ...tracker.closingEvents({ kind: "error", code: RUN_ERROR_INTERRUPTED, message }),
    error,
  ];
  // The closing events change the thread's messages too (a tool message for each unanswered
  // tool call): the view update goes with them, as a RunWriter's would.
  for (const event of events) view.apply(event);
  await store.append(threadId, fence, events, view.takeUpdate());
}
