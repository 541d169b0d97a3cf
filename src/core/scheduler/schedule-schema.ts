import { z } from "zod";
import { historyWindowSchema } from "../history-window.js";
import { addMessageIssues } from "../message-issues.js";
import { retentionPolicySchema } from "../retention.js";
import { MULTITASK_STRATEGIES } from "../types.js";
import { cronPattern } from "./next-fire.js";
import { CATCH_UP_POLICIES, type InputTemplate, type ScheduleInput } from "./schedule-types.js";

/** Shortest interval: a faster heartbeat would only flood the log. */
export const MIN_EVERY_MS = 1_000;

/** Schedule ids end up inside thread ids (`schedule:<id>:<fireAt>`), hence the shorter bound. */
export const scheduleIdSchema = z
  .string()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters")
  .regex(/^[A-Za-z0-9._:@~-]+$/, "may contain only letters, digits and . _ : @ ~ -");

const threadIdSchema = z
  .string()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .regex(/^[A-Za-z0-9._:@~-]+$/, "may contain only letters, digits and . _ : @ ~ -");

/** An AG-UI message whose id the tick assigns. */
const templateMessageSchema = z
  .unknown()
  .superRefine((value, ctx) =>
    addMessageIssues(
      typeof value === "object" && value !== null ? { id: "template", ...value } : value,
      ctx,
    ),
  ) as unknown as z.ZodType<NonNullable<InputTemplate["messages"]>[number]>;

export const inputTemplateSchema = z.strictObject({
  messages: z.array(templateMessageSchema).max(100).optional(),
  state: z.unknown().optional(),
  forwardedProps: z.unknown().optional(),
  history: historyWindowSchema.optional(),
});

const isoTime = z.iso.datetime({
  offset: true,
  message: "must be an ISO 8601 date-time (e.g. 2030-01-01T09:00:00Z)",
});

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const fields = {
  agentId: threadIdSchema,
  threadId: threadIdSchema,
  newThreadPerTick: z.boolean(),
  cron: z.string().trim().min(1, "must not be empty").max(200),
  timezone: z.string().min(1).max(100).refine(validTimezone, "is not a known IANA timezone"),
  everyMs: z
    .number()
    .int("must be a whole number of milliseconds")
    .min(MIN_EVERY_MS, `must be at least ${MIN_EVERY_MS}`),
  startAt: isoTime,
  endAt: isoTime,
  input: inputTemplateSchema,
  multitask: z.enum(MULTITASK_STRATEGIES),
  catchUp: z.enum(CATCH_UP_POLICIES),
  paused: z.boolean(),
  retention: retentionPolicySchema,
};

/** Cross-field rules, shared by create and by the merged result of a patch. */
function checkSchedule(s: Partial<ScheduleInput>, ctx: z.RefinementCtx): void {
  const issue = (message: string, path: string[] = []) =>
    ctx.addIssue({ code: "custom", message, path });
  if (s.cron === undefined && s.everyMs === undefined) {
    issue("give either `cron` (a cron expression) or `everyMs` (an interval); neither was given");
  } else if (s.cron !== undefined && s.everyMs !== undefined) {
    issue("give either `cron` or `everyMs`, not both");
  }
  if (s.timezone !== undefined && s.cron === undefined) {
    issue("`timezone` applies only to `cron` schedules", ["timezone"]);
  }
  if (s.cron !== undefined) {
    try {
      cronPattern(s.cron, s.timezone);
    } catch (error) {
      const why = (error as Error).message.replace(/^Cron\w*: /, "");
      issue(`invalid cron expression '${s.cron}': ${why}`, ["cron"]);
    }
  }
  if (
    s.startAt !== undefined &&
    s.endAt !== undefined &&
    Date.parse(s.endAt) <= Date.parse(s.startAt)
  ) {
    issue("`endAt` must be later than `startAt`", ["endAt"]);
  }
  if (s.newThreadPerTick && s.threadId !== undefined) {
    issue("give either `threadId` or `newThreadPerTick: true`, not both", ["threadId"]);
  }
}

export const scheduleInputSchema = z
  .strictObject({
    id: scheduleIdSchema.optional(),
    agentId: fields.agentId,
    threadId: fields.threadId.optional(),
    newThreadPerTick: fields.newThreadPerTick.optional(),
    cron: fields.cron.optional(),
    timezone: fields.timezone.optional(),
    everyMs: fields.everyMs.optional(),
    startAt: fields.startAt.optional(),
    endAt: fields.endAt.optional(),
    input: fields.input.optional(),
    multitask: fields.multitask.optional(),
    catchUp: fields.catchUp.optional(),
    paused: fields.paused.optional(),
    retention: fields.retention.optional(),
  })
  .superRefine(checkSchedule);

/** `PATCH /schedules/:id`: any definition field; `null` removes an optional one. */
export const schedulePatchSchema = z.strictObject({
  agentId: fields.agentId.optional(),
  threadId: fields.threadId.nullable().optional(),
  newThreadPerTick: fields.newThreadPerTick.optional(),
  cron: fields.cron.nullable().optional(),
  timezone: fields.timezone.nullable().optional(),
  everyMs: fields.everyMs.nullable().optional(),
  startAt: fields.startAt.nullable().optional(),
  endAt: fields.endAt.nullable().optional(),
  input: fields.input.nullable().optional(),
  multitask: fields.multitask.optional(),
  catchUp: fields.catchUp.optional(),
  paused: fields.paused.optional(),
  retention: fields.retention.nullable().optional(),
});
export type SchedulePatch = z.infer<typeof schedulePatchSchema>;

/** Validates a merged definition (the result of applying a patch). */
export const mergedScheduleSchema = z.custom<ScheduleInput>().superRefine(checkSchedule);
