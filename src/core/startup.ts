import type { Coordinator } from "./coordinator.js";
import type { Followers } from "./followers.js";
import type { InterruptExpirer } from "./interrupt-expirer.js";
import type { Logger } from "./logger.js";
import type { RetentionSweeper } from "./retention-sweep.js";
import type { Scheduler } from "./scheduler/index.js";
import type { ThreadStore } from "./store.js";
import type { RunTracing } from "./tracing.js";

/** The runtime's parts that start, stop and hear of a store's loss. */
export interface RuntimeParts {
  store: ThreadStore;
  coordinator: Coordinator;
  scheduler: Scheduler;
  expiry: InterruptExpirer;
  retention: RetentionSweeper;
  followers: Followers;
  logger: Logger;
}

/**
 * Starts the runtime, in order: spans (the optional OpenTelemetry peer, loaded before any run
 * starts), recovery of what a dead process left and the queues, schedules, interrupt expiry,
 * the retention sweep, the watch for threads deleted elsewhere. Resolves when all of it is done (`ready`).
 * A store that loses its data (Redis without persistence) refuses to operate from then on:
 * runs stop, and every follower's stream ends saying so (PROTOCOL.md §2.8) instead of stalling.
 */
export function startRuntime(
  parts: RuntimeParts,
  tracing: Promise<RunTracing | undefined>,
): Promise<void> {
  const { store, coordinator, scheduler, expiry, retention, followers, logger } = parts;
  store.onDataLost?.((error) => {
    logger.error({ err: error }, "the store lost its data; restart this instance");
    coordinator.storeLost();
    followers.dataLost(error);
  });
  const ready = tracing
    .then((t) => {
      if (t) coordinator.tracing = t;
    })
    .then(() => coordinator.start())
    .then(() => scheduler.start())
    .then(() => expiry.start())
    .then(() => retention.start())
    .then(() => followers.watchDeletions());
  ready.catch((error) => logger.error({ err: error }, "start-up recovery failed"));
  return ready;
}

/**
 * Stops the runs, in order: nothing new starts (schedules, expiry, the sweep, the deletion
 * watch), then
 * runs finish or are closed as INTERRUPTED — while followers are still attached, so they see
 * the ends (`Followers.finish` comes after).
 */
export async function stopRuns(
  parts: Omit<RuntimeParts, "store" | "logger">,
  ready: Promise<void>,
  graceMs: number | undefined,
): Promise<void> {
  await ready.catch(() => undefined);
  await parts.scheduler.stop();
  await parts.expiry.stop();
  await parts.retention.stop();
  parts.followers.stopWatching();
  await parts.coordinator.close(graceMs);
}
