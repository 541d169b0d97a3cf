import { ThreadlineError } from "./errors.js";
import type { EnqueueOptions } from "./store.js";
import type { Fence, MultitaskStrategy, RunStatus } from "./types.js";

/**
 * The run transition rules, as pure functions every store executes inside its own transaction or
 * script (the Redis Lua scripts mirror them; the conformance suite checks every store).
 */

/**
 * The fencing token a claim or a takeover issues: above the thread's current one, and above every
 * token a deleted thread ever held (`floor`, raised by `fenceFloorAfterDelete`), so that a fence
 * still held on a deleted thread never matches the new thread of the same id.
 */
export function nextFenceToken(floor: number, threadToken: number): number {
  return Math.max(floor, threadToken) + 1;
}

/** The store-wide floor of fencing tokens once a thread holding `threadToken` is deleted. */
export function fenceFloorAfterDelete(floor: number, threadToken: number): number {
  return Math.max(floor, threadToken);
}

/** What a store knows of a thread and one of its runs when it checks a fence. */
export interface FenceState {
  /** The thread's active run, null when idle; the thread is missing when `undefined`. */
  activeRunId: string | null | undefined;
  /** The thread's current fencing token. */
  fenceToken: number | undefined;
  /** The status of the run the fence names; undefined when the thread has no such run. */
  runStatus: RunStatus | undefined;
}

/** A fence holds while it names the thread's active, running run and its current token. */
export function fenceHolds(state: FenceState, fence: Fence): boolean {
  return (
    state.runStatus === "running" &&
    state.activeRunId === fence.runId &&
    state.fenceToken === fence.token
  );
}

/** A lease can be renewed while its fence holds and the run's lease carries the same token. */
export function leaseRenewable(
  state: FenceState & { leaseToken: number | null | undefined },
  fence: Fence,
): boolean {
  return fenceHolds(state, fence) && state.leaseToken === fence.token;
}

/** Where an enqueued run goes, and which active run it asks to stop. */
export interface EnqueueDecision {
  /** `head` for `interrupt` (it goes first), `tail` otherwise (FIFO). */
  position: "head" | "tail";
  /** The active run to flag `cancelRequested` (`interrupt` on a busy thread), else null. */
  interrupt: string | null;
}

/**
 * The multitask rule: a run id the thread already has is a CONFLICT; a run checked against other
 * pending interrupts than the thread's (`opts.interrupts`) is INTERRUPTS_PENDING; `reject` is
 * THREAD_BUSY while any run is active or queued; `interrupt` goes first and stops the active run;
 * `enqueue` queues.
 */
export function decideEnqueue(
  state: {
    runExists: boolean;
    activeRunId: string | null;
    queued: number;
    /** The ids of the thread's pending interrupts, in order. */
    pendingInterrupts?: readonly string[];
  },
  run: { threadId: string; runId: string },
  strategy: MultitaskStrategy,
  opts: EnqueueOptions = {},
): EnqueueDecision {
  if (state.runExists) throw runExists(run.runId);
  if (opts.interrupts && !sameIds(state.pendingInterrupts ?? [], opts.interrupts))
    throw interruptsPending(run.threadId);
  if (strategy === "reject" && (state.activeRunId !== null || state.queued > 0)) {
    throw threadBusy(run.threadId, state.activeRunId, state.queued);
  }
  return {
    position: strategy === "interrupt" ? "head" : "tail",
    interrupt: strategy === "interrupt" ? state.activeRunId : null,
  };
}

/**
 * A running run may be taken over when it is still the thread's active run and its lease expired
 * by `now` (a lease without expiry counts as expired), or at once with `force` (its holder is
 * known dead).
 */
export function takeOverAllowed(
  state: {
    activeRunId: string | null | undefined;
    runStatus: RunStatus | undefined;
    leaseExpiresAt: number | null | undefined;
  },
  runId: string,
  lease: { now: number; force?: boolean },
): boolean {
  if (state.runStatus !== "running" || state.activeRunId !== runId) return false;
  if (lease.force) return true;
  return state.leaseExpiresAt === null || state.leaseExpiresAt === undefined
    ? true
    : state.leaseExpiresAt <= lease.now;
}

/** The one LEASE_LOST every store throws for an append whose fence no longer holds. */
export function leaseLost(threadId: string, runId: string): ThreadlineError {
  return new ThreadlineError("LEASE_LOST", `run ${runId} no longer holds ${threadId}`);
}

const sameIds = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((id, i) => id === b[i]);

/**
 * The store's refusal of an enqueue checked against other interrupts than the thread's. Without
 * their ids: the coordinator reads them and gives the request `checkResume`'s full refusal
 * (resume-check.ts), or enqueues again if the run answers the new ones.
 */
export function interruptsPending(threadId: string): ThreadlineError {
  return new ThreadlineError(
    "INTERRUPTS_PENDING",
    `the pending interrupts of thread ${threadId} are not the ones the run was checked against`,
  );
}

export function runExists(runId: string): ThreadlineError {
  return new ThreadlineError("CONFLICT", `run '${runId}' already exists on this thread`);
}

export function threadBusy(
  threadId: string,
  activeRunId: string | null,
  queued: number,
): ThreadlineError {
  return new ThreadlineError("THREAD_BUSY", `thread ${threadId} already has a run`, {
    details: { activeRunId, queued },
  });
}

/**
 * Whether `RecordStore.claim` may give `key` to a caller now: nobody claimed it, or the claim's
 * keep time ran out (`expiresAt <= now`). Unlike a lease, its holder claiming again gets false.
 */
export function claimAvailable(current: { expiresAt: number } | undefined, now: number): boolean {
  return !current || current.expiresAt <= now;
}

/**
 * Whether a named lease (`RecordStore.lease`) may be given to `owner` now: nobody holds it, its
 * holder's lease expired (`expiresAt <= now`), or `owner` holds it already (a renewal).
 */
export function leaseAvailable(
  current: { owner: string; expiresAt: number } | undefined,
  owner: string,
  now: number,
): boolean {
  return !current || current.expiresAt <= now || current.owner === owner;
}
