import { z } from "zod";
import { METADATA_KEY } from "../protocol.js";
import type { CompactionStep } from "./compaction.js";
import { ThreadlineError } from "./errors.js";
import { isTerminalEvent } from "./run-tracker.js";
import type { ThreadStore } from "./store.js";
import type { EventRecord, ThreadSummary } from "./types.js";

/**
 * Retention: which history a thread keeps. The decisions live here; the sweep
 * (`retention-sweep.ts`) applies them and the stores execute the compaction steps.
 *
 * Each limit removes independently (whichever removes more wins): a run goes once it is older
 * than the newest `keepRuns`, or once it ended more than `maxAgeMs` ago. A run in progress, the
 * queued runs and the runs after them are never touched. Messages go with the run that wrote
 * them; the thread's state stays (see `CompactionResult`).
 */
export interface RetentionPolicy {
  /** Keep the newest N runs that started (their events, messages and records); older ones go. */
  keepRuns?: number | false | null;
  /** Keep the runs that ended less than this many ms ago; older ones go. */
  maxAgeMs?: number | false | null;
  /** Delete the thread once nothing happened on it for this many ms (no run active or queued). */
  deleteIdleAfterMs?: number | false | null;
}

const limit = z.union([z.number().int().nonnegative(), z.literal(false), z.null()]).optional();
/**
 * A policy as given in config, a schedule or thread metadata. `false` (or `null`, except in a
 * metadata patch, where JSON Merge Patch reads `null` as "remove the key") lifts the limit a
 * lower layer sets.
 */
export const retentionPolicySchema = z
  .object({ keepRuns: limit, maxAgeMs: limit, deleteIdleAfterMs: limit })
  .strict();

/** Validates a policy from outside (config, schedule, thread metadata); VALIDATION_FAILED else. */
export function parseRetentionPolicy(value: unknown, where: string): RetentionPolicy {
  const parsed = retentionPolicySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? `.${issue.path.join(".")}` : "";
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `invalid ${where}${path}: ${issue?.message ?? "not a retention policy"} (expected { keepRuns?, maxAgeMs?, deleteIdleAfterMs? }: non-negative integers, or false for no limit)`,
    );
  }
  return parsed.data;
}

/**
 * Where a thread's own policy lives: its metadata `threadline.retention` (set it with
 * `PATCH /threads/:id`); a schedule writes its policy for the threads it runs on under
 * `threadline.scheduleRetention`.
 */
export const THREAD_RETENTION_KEY = "retention";
export const SCHEDULE_RETENTION_KEY = "scheduleRetention";

/** Metadata of a thread validated for the policies it holds (VALIDATION_FAILED when wrong). */
export function checkRetentionMetadata(metadata: Record<string, unknown> | undefined): void {
  const own = metadata?.[METADATA_KEY];
  if (!own || typeof own !== "object") return;
  const entry = own as Record<string, unknown>;
  for (const key of [THREAD_RETENTION_KEY, SCHEDULE_RETENTION_KEY]) {
    if (entry[key] !== undefined && entry[key] !== null) {
      parseRetentionPolicy(entry[key], `metadata.${METADATA_KEY}.${key}`);
    }
  }
}

/** A schedule's policy as the metadata of a thread it creates. */
export function scheduleRetentionMetadata(
  policy: RetentionPolicy | undefined,
): Record<string, unknown> {
  return policy ? { [METADATA_KEY]: { [SCHEDULE_RETENTION_KEY]: liftsAsFalse(policy) } } : {};
}

/** `null` limits as `false`: in a metadata merge patch `null` would remove the key instead. */
function liftsAsFalse(policy: RetentionPolicy): RetentionPolicy {
  return Object.fromEntries(
    Object.entries(policy).map(([k, v]) => [k, v === null ? false : v]),
  ) as RetentionPolicy;
}

/**
 * Writes a schedule's policy into the metadata of the (fixed) thread it runs on, when it is not
 * there already: the thread is created if missing (the tick's run would create it anyway).
 */
export async function syncScheduleRetention(
  store: ThreadStore,
  threadId: string,
  policy: RetentionPolicy,
): Promise<void> {
  const thread = await store.threads.ensure(threadId, scheduleRetentionMetadata(policy));
  const own = thread.metadata[METADATA_KEY] as Record<string, unknown> | undefined;
  const wanted = liftsAsFalse(policy);
  if (JSON.stringify(own?.[SCHEDULE_RETENTION_KEY]) === JSON.stringify(wanted)) return;
  // A merge patch: `false` limits stay, keys the schedule no longer sets are removed.
  const previous = (own?.[SCHEDULE_RETENTION_KEY] ?? {}) as Record<string, unknown>;
  const patch: Record<string, unknown> = Object.fromEntries(
    Object.keys(previous).map((k) => [k, null]),
  );
  Object.assign(patch, wanted);
  await store.threads.update(threadId, {
    metadata: { [METADATA_KEY]: { [SCHEDULE_RETENTION_KEY]: patch } },
  });
}

/** The limits in force, each undefined when none applies. */
export interface EffectivePolicy {
  keepRuns?: number;
  maxAgeMs?: number;
  deleteIdleAfterMs?: number;
}

/**
 * The policy in force on a thread, field by field: the thread's own (metadata
 * `threadline.retention`) over its schedule's (`threadline.scheduleRetention`) over the server's
 * default. A `false` (or `null`) field lifts the limit of the layers below. A malformed layer is ignored
 * (metadata written before validation existed, or by a store user): `invalid` names it.
 */
export function effectivePolicy(
  serverDefault: RetentionPolicy | undefined,
  metadata: Record<string, unknown>,
): { policy: EffectivePolicy; invalid?: string } {
  const own = metadata[METADATA_KEY];
  const entry = own && typeof own === "object" ? (own as Record<string, unknown>) : {};
  let invalid: string | undefined;
  const layer = (key: string): RetentionPolicy => {
    const value = entry[key];
    if (value === undefined || value === null) return {};
    const parsed = retentionPolicySchema.safeParse(value);
    if (parsed.success) return parsed.data;
    invalid = `metadata.${METADATA_KEY}.${key}`;
    return {};
  };
  const merged: RetentionPolicy = {
    ...serverDefault,
    ...layer(SCHEDULE_RETENTION_KEY),
    ...layer(THREAD_RETENTION_KEY),
  };
  const policy: EffectivePolicy = {};
  if (typeof merged.keepRuns === "number") policy.keepRuns = merged.keepRuns;
  if (typeof merged.maxAgeMs === "number") policy.maxAgeMs = merged.maxAgeMs;
  if (typeof merged.deleteIdleAfterMs === "number") {
    policy.deleteIdleAfterMs = merged.deleteIdleAfterMs;
  }
  return invalid ? { policy, invalid } : { policy };
}

/** True when the policy removes anything at all. */
export function hasLimits(policy: EffectivePolicy): boolean {
  return (
    policy.keepRuns !== undefined ||
    policy.maxAgeMs !== undefined ||
    policy.deleteIdleAfterMs !== undefined
  );
}

/**
 * Whether an idle thread is to be deleted now: no run active or queued, no question waiting for a
 * person (pending interrupts: the thread waits, it is not abandoned; an answer, or the expiry,
 * ends the wait and the quiet time counts from then), and quiet long enough.
 */
export function idleThreadExpired(
  thread: ThreadSummary,
  policy: EffectivePolicy,
  now: number,
  hasQueued: boolean,
): boolean {
  if (policy.deleteIdleAfterMs === undefined || thread.activeRunId || hasQueued) return false;
  if (thread.interrupts.length > 0) return false;
  return now - thread.updatedAt > policy.deleteIdleAfterMs;
}

/**
 * The `startSeq` of the `n`-th newest started run among a thread's runs (by `startSeq`, 1 = the
 * newest), or null when fewer than `n` started: what `RunQueue.nthNewestStartSeq` answers.
 */
export function nthNewestStartSeq(
  runs: readonly { startSeq?: number | undefined }[],
  n: number,
): number | null {
  if (!Number.isInteger(n) || n < 1) return null;
  const starts: number[] = [];
  for (const run of runs) if (run.startSeq !== undefined) starts.push(run.startSeq);
  starts.sort((a, b) => b - a);
  return starts[n - 1] ?? null;
}

/**
 * The `keepRuns` limit as a seq: events at or below it belong to runs older than the newest
 * `keepRuns` started runs. `nthStart` is the `keepRuns`-th newest start seq (null: fewer runs
 * started, nothing to remove by count: 0).
 */
export function keptRunsBoundary(keepRuns: number, nthStart: number | null): number {
  if (keepRuns === 0) return Number.MAX_SAFE_INTEGER;
  return nthStart === null ? 0 : nthStart - 1;
}

/**
 * The next compaction step from the oldest events still stored (`events`, ascending from the
 * horizon on), or null when nothing is to be removed: the highest terminal event such that it
 * and every terminal before it are removable — at or below `runsBoundary` (the `keepRuns` limit),
 * or committed before `cutoff` (the `maxAgeMs` limit). The step never reaches into a run that
 * has not ended (its terminal event is not there yet). Bounded: at most `events.length` events.
 */
export function nextCompactionStep(
  events: readonly EventRecord[],
  limits: { runsBoundary?: number; cutoff?: number },
): CompactionStep | null {
  let step: CompactionStep | null = null;
  for (const record of events) {
    if (!isTerminalEvent(record.event)) continue;
    const byCount = limits.runsBoundary !== undefined && record.seq <= limits.runsBoundary;
    const byAge = limits.cutoff !== undefined && record.at < limits.cutoff;
    if (!byCount && !byAge) break;
    // Runs that never started and ended before the kept history begins go with it.
    step = { horizon: record.seq, endedBefore: record.at };
  }
  return step;
}

/**
 * Whether the store is to reclaim the space of removed rows now: once `removed` (since the last
 * time) reaches `afterRows`; never when `afterRows` is 0.
 */
/**
 * The default of `reclaimAfterRows`. Small enough that the rows waiting to be vacuumed stay a
 * fraction of what a 1,000-run heartbeat thread keeps (12,000 rows: within 10% of its size, where
 * 10,000 left it 17% over); a reclaim runs at most once per sweep pass, so a busy store that
 * removes more per pass vacuums no more often than before.
 */
export const RECLAIM_AFTER_ROWS = 2_000;

export function reclaimDue(removed: number, afterRows: number): boolean {
  return afterRows > 0 && removed > 0 && removed >= afterRows;
}
