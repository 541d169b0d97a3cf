import { randomUUID } from "node:crypto";
import type { Message } from "@ag-ui/core";
import type { z } from "zod";
import { ThreadlineError } from "../errors.js";
import type { RunInput } from "../types.js";
import { nextFireAfter, toIso } from "./next-fire.js";
import {
  mergedScheduleSchema,
  type SchedulePatch,
  scheduleIdSchema,
  scheduleInputSchema,
  schedulePatchSchema,
} from "./schedule-schema.js";
import {
  DEFINITION_KEYS,
  type InputTemplate,
  type ScheduleInput,
  type ScheduleRecord,
  TIMING_KEYS,
} from "./schedule-types.js";

/** Parses with zod; failures become a 400 naming every problem (`cron: invalid ...`). */
export function parseOr400<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = result.error.issues
    .map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`)
    .join("; ");
  throw new ThreadlineError("VALIDATION_FAILED", `invalid ${what}: ${message}`, {
    details: result.error.issues.map((i) => ({ path: i.path, message: i.message })),
  });
}

export const parseScheduleInput = (value: unknown, what = "schedule"): ScheduleInput =>
  parseOr400(scheduleInputSchema, value, what);

export const parseSchedulePatch = (value: unknown): SchedulePatch =>
  parseOr400(schedulePatchSchema, value, "schedule patch");

export const parseScheduleId = (value: unknown): string =>
  parseOr400(scheduleIdSchema, value, "schedule id");

/** The next tick from `now`, or null while paused / after the end. */
function nextFor(s: Omit<ScheduleRecord, "nextFireAt">, now: number): string | null {
  if (s.paused) return null;
  const next = nextFireAfter(s, now);
  return next === null ? null : toIso(next);
}

/** A new record from a validated input. */
export function buildRecord(input: ScheduleInput, id: string, now: number): ScheduleRecord {
  const newThreadPerTick = input.newThreadPerTick === true;
  const base: Omit<ScheduleRecord, "nextFireAt"> = {
    id,
    agentId: input.agentId,
    ...(newThreadPerTick ? {} : { threadId: input.threadId ?? `schedule:${id}` }),
    newThreadPerTick,
    ...(input.cron === undefined ? {} : { cron: input.cron }),
    ...(input.timezone === undefined ? {} : { timezone: input.timezone }),
    ...(input.everyMs === undefined ? {} : { everyMs: input.everyMs }),
    ...(input.startAt === undefined ? {} : { startAt: toIso(Date.parse(input.startAt)) }),
    ...(input.endAt === undefined ? {} : { endAt: toIso(Date.parse(input.endAt)) }),
    ...(input.input === undefined ? {} : { input: input.input }),
    multitask: input.multitask ?? "enqueue",
    catchUp: input.catchUp ?? "skip",
    paused: input.paused === true,
    ...(input.retention === undefined ? {} : { retention: input.retention }),
    revision: 1,
    createdAt: toIso(now),
    updatedAt: toIso(now),
  };
  return { ...base, nextFireAt: nextFor(base, now) };
}

/** The user-defined part of a record, in a fixed key order (for comparisons). */
export function definitionOf(r: ScheduleRecord): string {
  return JSON.stringify(DEFINITION_KEYS.map((k) => [k, r[k] ?? null]));
}

const FIRING_KEYS = ["lastFiredAt", "lastRunId", "lastThreadId", "lastError"] as const;

/**
 * Replaces a record's definition with `next` (a record built from the new definition): keeps
 * the firing state, bumps the revision, and moves the next tick only when the timing changed.
 * Returns the record unchanged when the definition is the same.
 */
export function redefine(
  current: ScheduleRecord,
  next: ScheduleRecord,
  now: number,
): ScheduleRecord {
  if (definitionOf(current) === definitionOf(next)) return current;
  const merged: ScheduleRecord = {
    ...next,
    id: current.id,
    createdAt: current.createdAt,
    updatedAt: toIso(now),
    revision: current.revision + 1,
    nextFireAt: current.nextFireAt,
  };
  for (const k of FIRING_KEYS) {
    if (current[k] !== undefined) Object.assign(merged, { [k]: current[k] });
  }
  if (TIMING_KEYS.some((k) => current[k] !== next[k])) merged.nextFireAt = nextFor(merged, now);
  return merged;
}

/** The input a patch leads to: the record's definition with the patch applied (null clears). */
export function patchedInput(current: ScheduleRecord, patch: SchedulePatch): ScheduleInput {
  const merged: Record<string, unknown> = {};
  for (const k of DEFINITION_KEYS) if (current[k] !== undefined) merged[k] = current[k];
  // A schedule that moves to a fixed thread stops making new ones, and vice versa.
  if (patch.newThreadPerTick === true) delete merged.threadId;
  if (typeof patch.threadId === "string") merged.newThreadPerTick = false;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return parseOr400(mergedScheduleSchema, merged, "schedule patch") as ScheduleInput;
}

/** The run input of one tick: the template with fresh message ids, so each prompt is new. */
export function materializeInput(template: InputTemplate | undefined): RunInput {
  if (!template) return {};
  return {
    ...(template.messages
      ? { messages: template.messages.map((m) => ({ ...m, id: randomUUID() }) as Message) }
      : {}),
    ...(template.state === undefined ? {} : { state: structuredClone(template.state) }),
    ...(template.forwardedProps === undefined
      ? {}
      : { forwardedProps: structuredClone(template.forwardedProps) }),
    ...(template.history ? { history: { ...template.history } } : {}),
  };
}
