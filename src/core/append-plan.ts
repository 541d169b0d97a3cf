import type { BaseEvent } from "@ag-ui/core";
import { ThreadlineError } from "./errors.js";
import { errorOfTerminal, statusOfTerminal } from "./store.js";
import type { EventRecord, RunStatus } from "./types.js";

/**
 * What an append does, decided once for every store before it touches anything: each event's
 * JSON (the one serialisation the log keeps), its type, where the run starts and where it ends.
 * The event every reader gets is that JSON parsed back (`CommittedEvent`), so a live listener and
 * a replay see the very same value: a `Date` is its ISO string on both, an `undefined` property
 * is absent on both.
 */
export interface AppendPlan {
  /** Each event's JSON text, in order. */
  readonly json: readonly string[];
  /** Each event's `type` (a string: `serialise` checked it). */
  readonly types: readonly string[];
  /** Index of the batch's first RUN_STARTED (it records the run's `startSeq`), or -1. */
  readonly started: number;
  /** The batch's first terminal event: it ends the run with this status (and error). */
  readonly terminal?: {
    index: number;
    status: RunStatus;
    error?: { code: string; message: string };
  };
}

/** Where a batch carries the JSON its writer computed already (see `withJson`). */
const JSON_OF: unique symbol = Symbol("threadline.batch-json");

/** A batch of events that carries each one's JSON text (`undefined`: not serialised yet). */
export type SerialisedBatch = readonly BaseEvent[] & {
  readonly [JSON_OF]?: readonly (string | undefined)[];
};

/**
 * Marks `events` as already serialised (`json[i]` is `serialiseEvent(events[i])`), so the
 * append plan does not serialise them a second time. The RunWriter serialises each event when
 * it is written (that is where an event JSON cannot hold is told apart: the agent's fault).
 */
export function withJson(
  events: BaseEvent[],
  json: readonly (string | undefined)[],
): SerialisedBatch {
  return Object.assign(events, { [JSON_OF]: json });
}

/**
 * Serialises a batch, all or nothing: an event JSON cannot hold (a BigInt, a cycle, a value that
 * is not an object) fails the whole append with VALIDATION_FAILED before any store writes.
 */
export function planAppend(events: readonly BaseEvent[]): AppendPlan {
  const json: string[] = [];
  const types: string[] = [];
  let started = -1;
  let terminal: AppendPlan["terminal"];
  const known = (events as SerialisedBatch)[JSON_OF];
  const carried = known?.length === events.length ? known : undefined;
  for (let i = 0; i < events.length; i++) {
    const text = carried?.[i] ?? serialise(events[i], i);
    // The caller's `type` is a string, and a string is its own JSON round trip: no parse needed
    // to know it (parsing every event here cost a fifth of an append's CPU time).
    const type = events[i]!.type;
    json.push(text);
    types.push(type);
    if (started < 0 && type === "RUN_STARTED") started = i;
    if (!terminal && (type === "RUN_FINISHED" || type === "RUN_ERROR")) {
      // The run's error as the log keeps it (the round trip), not the caller's object.
      const event = JSON.parse(text) as BaseEvent;
      const error = errorOfTerminal(event);
      terminal = { index: i, status: statusOfTerminal(event), ...(error ? { error } : {}) };
    }
  }
  return { json, types, started, ...(terminal ? { terminal } : {}) };
}

/**
 * One event's JSON text, as the log will keep it; VALIDATION_FAILED when JSON cannot hold it.
 */
export function serialiseEvent(event: unknown): string {
  return serialise(event, undefined);
}

function serialise(event: unknown, index: number | undefined): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(event);
  } catch (error) {
    throw notJson(index, event, error instanceof Error ? error.message : String(error), error);
  }
  if (
    text === undefined ||
    text[0] !== "{" ||
    typeof (event as { type?: unknown }).type !== "string"
  ) {
    throw notJson(index, event, "an event is a JSON object with a string `type`");
  }
  return text;
}

function notJson(
  index: number | undefined,
  event: unknown,
  why: string,
  cause?: unknown,
): ThreadlineError {
  const type = (event as { type?: unknown } | null)?.type;
  const what = typeof type === "string" ? `${type} event` : "event";
  const which = index === undefined ? what : `${what} #${index + 1} of the batch`;
  return new ThreadlineError("VALIDATION_FAILED", `${which} cannot be stored as JSON: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * A committed event as an append returns it and announces it: its stored JSON text and type,
 * and the event parsed from that text on first use. Most commits reach no in-process reader of
 * objects (an SSE follower's frame takes `json` as is), so most are never parsed.
 */
export class CommittedEvent implements EventRecord {
  private parsed: BaseEvent | undefined;

  constructor(
    readonly seq: number,
    readonly runId: string,
    readonly at: number,
    readonly json: string,
    readonly type: string,
  ) {}

  get event(): BaseEvent {
    this.parsed ??= JSON.parse(this.json) as BaseEvent;
    return this.parsed;
  }
}

/** A record's event type, without parsing a committed event for it. */
export function typeOfRecord(record: EventRecord): string {
  return record instanceof CommittedEvent ? record.type : record.event.type;
}

/** The committed records of a plan whose first event got `first`. */
export function recordsOf(
  plan: AppendPlan,
  first: number,
  runId: string,
  at: number,
): CommittedEvent[] {
  const records: CommittedEvent[] = [];
  for (let i = 0; i < plan.json.length; i++)
    records.push(new CommittedEvent(first + i, runId, at, plan.json[i]!, plan.types[i]!));
  return records;
}
