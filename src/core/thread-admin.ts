import type { Coordinator } from "./coordinator.js";
import { ThreadlineError } from "./errors.js";
import { closeTakenRun } from "./recovery.js";
import { checkRetentionMetadata } from "./retention.js";
import { cancelledTerminal, type ThreadStore } from "./store.js";
import type { ThreadPatch, ThreadSummary } from "./types.js";

/** What `deleteThread` did. */
export interface ThreadDeletion {
  threadId: string;
  deleted: true;
  /** The run that was active and was cancelled first. */
  cancelledRunId?: string;
}

export interface ThreadAdminDeps {
  store: ThreadStore;
  coordinator: Coordinator;
  /**
   * Called once the active run has ended and before the log goes, with the thread's last seq:
   * followers on a store that delivers asynchronously (PostgreSQL, Redis) may not have received
   * the cancelled run's end yet, and the log they would read it from is about to go.
   */
  beforeDelete?: (lastSeq: number) => Promise<unknown>;
}

const notFound = (threadId: string) =>
  new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);

/** Applies a metadata merge patch (see `ThreadPatch`); THREAD_NOT_FOUND for an unknown thread. */
export async function updateThread(
  store: ThreadStore,
  threadId: string,
  patch: ThreadPatch,
): Promise<ThreadSummary> {
  // A retention policy in the metadata must be one (VALIDATION_FAILED), not be ignored later.
  checkRetentionMetadata(patch.metadata);
  const updated = await store.threads.update(threadId, patch);
  if (!updated) throw notFound(threadId);
  return updated;
}

/**
 * Deletes a thread and everything tied to it. Its active run is cancelled first, so followers see
 * that run end validly (a cancelled RUN_FINISHED) before their streams end: a run this process
 * executes is stopped through the coordinator; one held elsewhere (another instance, or a dead
 * process) is taken over — which fences its holder out — and closed here. Queued runs go with the
 * thread. THREAD_NOT_FOUND for an unknown thread.
 */
export async function deleteThread(
  deps: ThreadAdminDeps,
  threadId: string,
): Promise<ThreadDeletion> {
  const { store, coordinator } = deps;
  const head = await store.threads.head(threadId);
  if (!head) throw notFound(threadId);
  const runId = head.activeRunId ?? undefined;
  if (runId) await cancelForDeletion(deps, threadId, runId);
  const last = await store.threads.head(threadId);
  if (last && deps.beforeDelete) await deps.beforeDelete(last.lastSeq);
  if (!(await store.threads.delete(threadId))) throw notFound(threadId);
  coordinator.forgetThread(threadId);
  return { threadId, deleted: true, ...(runId ? { cancelledRunId: runId } : {}) };
}

async function cancelForDeletion(deps: ThreadAdminDeps, threadId: string, runId: string) {
  const { store, coordinator } = deps;
  if (coordinator.localRun(threadId)?.runId === runId) {
    await coordinator.cancelRun(threadId, runId);
    return;
  }
  // The lease it takes is on the runtime's one clock, as every lease is.
  const now = coordinator.clock.now();
  const claimed = await store.runs.takeOver(threadId, runId, {
    owner: coordinator.instanceId,
    leaseMs: coordinator.leaseMs,
    now,
    force: true,
  });
  // Null: the run ended meanwhile, nothing left to close.
  if (!claimed) return;
  await closeTakenRun(store, claimed, now, {
    terminal: cancelledTerminal(threadId, runId, "the thread was deleted"),
    ending: { kind: "stopped" },
    status: "cancelled",
  });
}
