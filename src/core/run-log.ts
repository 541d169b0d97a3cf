import { RunTracker } from "./run-tracker.js";
import type { ThreadStore } from "./store.js";

const PAGE = 1000;

/**
 * Replays one run's stored events into a RunTracker: what it opened and has not closed, as of
 * `uptoSeq` (default: the end of the log). Runs never interleave, so a run's events are the
 * contiguous range starting at its `startSeq`; cost is the run's length, not the thread's.
 */
export async function trackStoredRun(
  store: ThreadStore,
  threadId: string,
  runId: string,
  startSeq: number,
  uptoSeq = Number.POSITIVE_INFINITY,
): Promise<RunTracker> {
  const tracker = new RunTracker();
  let after = startSeq - 1;
  while (after < uptoSeq) {
    const limit = Math.min(PAGE, uptoSeq - after);
    const page = await store.threads.read(threadId, { after, limit });
    for (const r of page) if (r.runId === runId && r.seq <= uptoSeq) tracker.apply(r.event);
    if (page.length < limit) break;
    after = page[page.length - 1]!.seq;
  }
  return tracker;
}
