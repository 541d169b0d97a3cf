import { Cron } from "croner";
import type { ScheduleRecord } from "./schedule-types.js";

type Timing = Pick<ScheduleRecord, "cron" | "timezone" | "everyMs" | "startAt" | "endAt">;

/** Parsed cron patterns, by pattern and timezone (a Cron without a callback arms no timer). */
const patterns = new Map<string, Cron>();

/** A croner pattern; throws croner's own (descriptive) error for an invalid pattern or zone. */
export function cronPattern(cron: string, timezone?: string): Cron {
  const key = `${cron}\u0000${timezone ?? ""}`;
  let pattern = patterns.get(key);
  if (!pattern) {
    pattern = new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) });
    // Reading a date in the zone is what validates it.
    pattern.nextRun(new Date(0));
    if (patterns.size > 1_000) patterns.clear();
    patterns.set(key, pattern);
  }
  return pattern;
}

/**
 * The first tick strictly after `after` (epoch ms), or null when there is none (past `endAt`,
 * or a cron expression that never matches again). Deterministic: every process computes the same
 * ticks from the same definition, which is what lets a store claim dedupe them.
 */
export function nextFireAfter(s: Timing, after: number): number | null {
  const start = s.startAt === undefined ? undefined : Date.parse(s.startAt);
  const end = s.endAt === undefined ? undefined : Date.parse(s.endAt);
  let next: number | null;
  if (s.everyMs !== undefined) {
    // Anchored at startAt, or at the epoch so that ticks do not depend on who created the record.
    const anchor = start ?? 0;
    next =
      after < anchor ? anchor : anchor + (Math.floor((after - anchor) / s.everyMs) + 1) * s.everyMs;
  } else if (s.cron !== undefined) {
    // startAt is inclusive: search from just before it.
    const from = start !== undefined && after < start ? start - 1 : after;
    next = cronPattern(s.cron, s.timezone).nextRun(new Date(from))?.getTime() ?? null;
  } else {
    next = null;
  }
  if (next !== null && end !== undefined && next >= end) return null;
  return next;
}

export const toIso = (ms: number): string => new Date(ms).toISOString();
