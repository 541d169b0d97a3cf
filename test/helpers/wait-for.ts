import type { ThreadStore } from "../../src/core/store.js";
import { type RunRecord, TERMINAL_RUN_STATUSES } from "../../src/core/types.js";

/** Polls `check` until it returns a truthy value, failing with `what` after the deadline. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 5_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits for a run to reach a terminal status; resolves with the ended run. */
export async function endedRun(
  store: ThreadStore,
  threadId: string,
  runId: string,
  timeoutMs?: number,
): Promise<RunRecord> {
  return waitFor(
    async () => {
      const r = await store.runs.get(threadId, runId);
      return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
    },
    `run ${runId} on ${threadId} to end`,
    timeoutMs,
  );
}
