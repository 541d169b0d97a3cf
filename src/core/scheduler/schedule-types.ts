import type { Message } from "@ag-ui/core";
import type { HistoryWindow } from "../history-window.js";
import type { RetentionPolicy } from "../retention.js";
import { scheduleRunId } from "../run-ids.js";
import type { MultitaskStrategy } from "../types.js";

export const CATCH_UP_POLICIES = ["skip", "once"] as const;
/** After downtime: `skip` the missed ticks, or fire `once` for all of them. */
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** A message of an input template: an AG-UI message without its id (each tick gets a new one). */
export type TemplateMessage = Omit<Message, "id"> & { id?: string };

/** What each tick's run is asked to do, on top of the thread's own messages and state. */
export interface InputTemplate {
  messages?: TemplateMessage[];
  state?: unknown;
  forwardedProps?: unknown;
  /** What each tick's agent sees of the thread (default: all of it). */
  history?: HistoryWindow;
}

/** A schedule as declared in options or posted to `POST /schedules`. */
export interface ScheduleInput {
  /** Required for schedules declared in options (they are upserted by id at start). */
  id?: string;
  agentId: string;
  /** The thread each tick runs on. Default `schedule:<id>` unless `newThreadPerTick`. */
  threadId?: string;
  /** Start every tick on a new thread `schedule:<id>:<fireAt>`. */
  newThreadPerTick?: boolean;
  /** Cron expression, 5 to 7 fields (seconds and years allowed). Exclusive with `everyMs`. */
  cron?: string;
  /** IANA timezone the cron expression is read in. Default UTC. */
  timezone?: string;
  /** Fixed interval (a heartbeat): ticks at `startAt + k * everyMs`, or multiples since the epoch. */
  everyMs?: number;
  /** ISO time of the first possible tick (inclusive). */
  startAt?: string;
  /** ISO time after which the schedule no longer fires (exclusive). */
  endAt?: string;
  input?: InputTemplate;
  /** When the thread is busy at tick time. Default `enqueue`. */
  multitask?: MultitaskStrategy;
  /** Default `skip`. */
  catchUp?: CatchUpPolicy;
  paused?: boolean;
  /** Retention of the threads it runs on, unless a thread has its own (README "Retention"). */
  retention?: RetentionPolicy;
}

/**
 * A stored schedule: its definition plus the firing state. A type alias (not an interface) so it
 * fits the store's JSON record type. Times are ISO strings.
 */
export type ScheduleRecord = {
  id: string;
  agentId: string;
  threadId?: string;
  newThreadPerTick: boolean;
  cron?: string;
  timezone?: string;
  everyMs?: number;
  startAt?: string;
  endAt?: string;
  input?: InputTemplate;
  multitask: MultitaskStrategy;
  catchUp: CatchUpPolicy;
  paused: boolean;
  retention?: RetentionPolicy;
  /** Bumped on every change of the definition (not on firing); other processes re-arm on it. */
  revision: number;
  createdAt: string;
  updatedAt: string;
  /** The next tick, null while paused or after `endAt`. */
  nextFireAt: string | null;
  lastFiredAt?: string;
  lastRunId?: string;
  lastThreadId?: string;
  /** Why the last tick could not start its run (e.g. THREAD_BUSY with multitask `reject`). */
  lastError?: { at: string; message: string };
};

/** The fields of a record a user defines (everything but the firing state). */
export const DEFINITION_KEYS = [
  "agentId",
  "threadId",
  "newThreadPerTick",
  "cron",
  "timezone",
  "everyMs",
  "startAt",
  "endAt",
  "input",
  "multitask",
  "catchUp",
  "paused",
  "retention",
] as const satisfies readonly (keyof ScheduleRecord)[];

/** The fields whose change moves the next tick. */
export const TIMING_KEYS = [
  "cron",
  "timezone",
  "everyMs",
  "startAt",
  "endAt",
  "paused",
] as const satisfies readonly (keyof ScheduleRecord)[];

/** The trigger kind of a schedule's runs: interval schedules are heartbeats. */
export function triggerKindOf(s: Pick<ScheduleRecord, "everyMs">): "schedule" | "heartbeat" {
  return s.everyMs === undefined ? "schedule" : "heartbeat";
}

/** The thread a tick runs on. */
export function threadIdForTick(s: ScheduleRecord, fireAt: string): string {
  if (s.newThreadPerTick) return `schedule:${s.id}:${fireAt}`;
  return s.threadId ?? `schedule:${s.id}`;
}

/** The run id of a tick: the store refuses a second run with it, so a tick fires once. */
export function tickRunId(scheduleId: string, fireAt: string): string {
  return scheduleRunId(scheduleId, fireAt);
}

/**
 * How long a tick's claim is kept. Processes race for it only while the tick is due (within the
 * sync interval, or a catch-up after downtime); a week covers any of those, and past it the store
 * drops the key, so a schedule that fails every tick does not leave one row per tick forever.
 */
export const TICK_CLAIM_KEEP_MS = 7 * 24 * 3600_000;

/** The claim deciding which process records a tick that could not start its run. */
export function tickClaimKey(scheduleId: string, fireAt: string): string {
  return `schedule:${scheduleId}:${fireAt}`;
}
