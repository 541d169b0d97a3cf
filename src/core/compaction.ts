import type { BaseEvent } from "@ag-ui/core";
import { CUSTOM_EVENT_RESET, type ReplayMode } from "../protocol.js";

/**
 * Compaction: the rules every store executes and every follow obeys (PROTOCOL.md §2.9).
 *
 * A thread's **horizon** `H` is the highest seq compaction removed: events with `seq <= H` are
 * gone, seqs are never reused, the view (messages of the runs kept, the state) stays. `H` is 0
 * (never compacted) or the seq of a run's terminal event, so the log after it always starts with
 * a `RUN_STARTED` and a run is never cut in half.
 */

/** One compaction step, as `ThreadLog.compact` executes it. */
export interface CompactionStep {
  /**
   * The new horizon: 0 or the seq of a terminal event (see `compactionBoundary`), never inside
   * the active run. A store clamps it to the thread's last seq and never lowers the horizon.
   */
  horizon: number;
  /**
   * Runs that ended without ever starting (cancelled while queued: they have no events) and
   * ended before this time (epoch ms) are removed too.
   */
  endedBefore: number;
}

/**
 * What a store removes for a step (the rule, executed by every backend in one transaction):
 * - the events with `seq <= horizon`;
 * - the view's messages first written at `seq <= horizon` (a message leaves the view with the
 *   run that wrote it; a later update of it does not move it);
 * - the ended runs (status other than queued/running) with `startSeq <= horizon`, and those
 *   without a `startSeq` that ended before `endedBefore`.
 * It does not touch `updatedAt` (compaction is not activity: idle-thread retention reads it).
 */
export interface CompactionResult {
  /** The thread's horizon after the step. */
  horizon: number;
  events: number;
  messages: number;
  runs: number;
}

/** True when a run with this status is over (compaction may remove its record). */
export function isEndedStatus(status: string): boolean {
  return status !== "queued" && status !== "running";
}

/** Whether a message first written at `seq` goes in a compaction to `horizon`. */
export function messageCompacted(seq: number, horizon: number): boolean {
  return seq <= horizon;
}

/** Whether a stored run record goes in a compaction step (see `CompactionResult`). */
export function runCompacted(
  run: { status: string; startSeq?: number | undefined; endedAt?: number | undefined },
  step: CompactionStep,
): boolean {
  if (!isEndedStatus(run.status)) return false;
  if (run.startSeq !== undefined) return run.startSeq <= step.horizon;
  return run.endedAt !== undefined && run.endedAt < step.endedBefore;
}

/**
 * What a follow asking for `cursor` with `replay` gets on a thread compacted to `horizon`:
 * `reset` when the events right after the cursor are gone (a full replay from before the
 * horizon, `replay=full` from 0 included): a compact snapshot marked as a reset instead of the
 * history, then the live tail. Otherwise the replay asked for.
 */
export function replayFor(
  cursor: number,
  replay: ReplayMode,
  horizon: number,
): ReplayMode | "reset" {
  return replay === "full" && horizon > 0 && cursor < horizon ? "reset" : replay;
}

/** What the reset marker says (the value of the `threadline.reset` CUSTOM event). */
export interface HistoryReset {
  /** The cursor the follower asked for. */
  after: number;
  /** The thread's horizon: events up to it are gone. */
  horizon: number;
  /** The seq the snapshot stands for: the follow continues after it. */
  seq: number;
}

/** The CUSTOM event inside a reset snapshot that states the skipped history. */
export function resetEvent(reset: HistoryReset): BaseEvent {
  return { type: "CUSTOM", name: CUSTOM_EVENT_RESET, value: reset } as BaseEvent;
}
