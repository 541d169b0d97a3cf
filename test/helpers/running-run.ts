import type { ThreadStore } from "../../src/core/store.js";
import type { Fence } from "../../src/core/types.js";

/** Puts a run of `threadId` into the store and claims it: the fence its events are appended with. */
export async function claimedRun(
  store: ThreadStore,
  threadId: string,
  runId: string,
): Promise<Fence> {
  await store.threads.ensure(threadId);
  await store.runs.enqueue(
    {
      runId,
      threadId,
      agentId: "a",
      trigger: { kind: "api" },
      status: "queued",
      input: {},
      createdAt: 0,
    },
    "reject",
  );
  const claimed = await store.runs.claimNext(threadId, { owner: "me", leaseMs: 60_000, now: 0 });
  if (!claimed) throw new Error(`run ${runId} could not be claimed`);
  return claimed.fence;
}
