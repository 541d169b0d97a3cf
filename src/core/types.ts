import type { BaseEvent, Context, Interrupt, Message, ResumeEntry, Tool } from "@ag-ui/core";

/** One committed event of a thread's log. `seq` is per thread, starts at 1, gapless. */
export interface EventRecord {
  seq: number;
  runId: string;
  /** Commit time, epoch milliseconds. */
  at: number;
  event: BaseEvent;
}

/**
 * A committed event as the store keeps it: its JSON text, made once when it was appended (the
 * append plan serialises each event once and every store keeps that text as is). It is the
 * event's canonical encoding: `JSON.stringify` of the parsed event gives the same text, so a
 * replay writes it into the SSE frame without parsing (`ThreadLog.readText`).
 */
export interface EventText {
  seq: number;
  runId: string;
  json: string;
}

/** `system`: a run Threadline starts on its own (an interrupt's expiry, see `interrupt-expiry.ts`). */
export const TRIGGER_KINDS = [
  "client",
  "api",
  "schedule",
  "heartbeat",
  "webhook",
  "system",
] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** Where a run came from. Copied into `RUN_STARTED.metadata.threadline.trigger`. */
export interface RunTrigger {
  kind: TriggerKind;
  scheduleId?: string;
  /** ISO time of the schedule tick this run fires for. */
  fireAt?: string;
  hookId?: string;
  deliveryId?: string;
  /** Free-form label (e.g. the caller of `startRun`). */
  source?: string;
  /** An interrupt expiry's run: what it does (`resume` the agent, or only `record`). */
  expiry?: "resume" | "record";
  /** An expiry run that fired late, after downtime (schedules say `source: "catch-up"`). */
  catchUp?: boolean;
}

export const RUN_STATUSES = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
]);

export const MULTITASK_STRATEGIES = ["reject", "enqueue", "interrupt"] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];

/** What a run is asked to do, beyond the thread's own messages and state. */
export interface RunInput {
  /** Messages to add to the thread (only those the thread has not seen are added). */
  messages?: Message[];
  /** Replaces the thread's state for this run when given. */
  state?: unknown;
  forwardedProps?: unknown;
  tools?: Tool[];
  context?: Context[];
  /** The part of the thread's history the agent is given (see `history-window.ts`). */
  history?: { lastMessages?: number };
  /** Answers to the thread's pending interrupts (AG-UI `RunAgentInput.resume`, see `interrupts.ts`). */
  resume?: ResumeEntry[];
}

export interface RunLease {
  owner: string;
  /** Fencing token: strictly increasing per thread; appends must present the current one. */
  token: number;
  expiresAt: number;
}

export interface RunRecord {
  runId: string;
  threadId: string;
  agentId: string;
  trigger: RunTrigger;
  status: RunStatus;
  input: RunInput;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  /** Seq of the run's RUN_STARTED, once it has been appended. */
  startSeq?: number;
  error?: { code: string; message: string };
  lease?: RunLease;
  cancelRequested?: boolean;
  /** Who started the run (the principal of the request), when a principal did. */
  startedBy?: RunActor;
  /** Who asked to cancel the run, when a principal did. */
  cancelledBy?: RunActor;
  /**
   * The W3C Trace Context of the request that asked for the run, stored with it so that the
   * instance that executes it (any instance of a shared store) makes the run's span its child.
   */
  trace?: TraceParent;
}

/** W3C Trace Context of a request (`traceparent`, `tracestate`); see `core/tracing.ts`. */
export interface TraceParent {
  traceparent: string;
  tracestate?: string;
}

/**
 * A principal as a run records it: `user` is a verified JWT's `sub`, `token` the holder of the
 * server's static token. Runs nobody started over HTTP (schedules, webhooks, code) have none.
 */
export interface RunActor {
  /** `link`: a signed interrupt link's bearer, `id` the `sub` it was made for (PROTOCOL.md §3.1.10). */
  kind: "user" | "token" | "link";
  id: string;
}

export interface ThreadSummary {
  threadId: string;
  createdAt: number;
  updatedAt: number;
  lastSeq: number;
  /** Compaction horizon: events with seq <= it were removed (0: none). See `compaction.ts`. */
  horizon: number;
  activeRunId: string | null;
  metadata: Record<string, unknown>;
  /**
   * Interrupts raised by a run and not answered by a later one yet (see `interrupts.ts`): part
   * of the summary, so a run's start checks its resume without loading the thread's messages.
   */
  interrupts: Interrupt[];
}

/**
 * A change to a thread's own data (not its log). `metadata` is a JSON Merge Patch (RFC 7386):
 * keys merge recursively, `null` removes a key.
 */
export interface ThreadPatch {
  metadata?: Record<string, unknown>;
}

/** The thread's materialized view, kept current as events are appended. */
export interface ThreadView extends ThreadSummary {
  messages: Message[];
  state: unknown;
}

/**
 * Changes to the materialized view that travel with an append, so the view commits atomically
 * with the events. Computed by the writer (see `view.ts`); stores only persist it.
 */
export interface ViewUpdate {
  /** Replace every message (a MESSAGES_SNAPSHOT). Applied before `upsert`. */
  replaceMessages?: Message[];
  /** Messages added or changed, in first-seen order. */
  upsertMessages?: Message[];
  /** The new state, when it changed. */
  state?: { value: unknown };
  /**
   * The thread's pending interrupts, when they changed (the rule: `interrupts.ts`), and when
   * they fall due (`expiryDueAt`, interrupt-expiry.ts; null or absent: never): the stores' due
   * index (`ThreadLog.interruptsDue`).
   */
  interrupts?: { value: Interrupt[]; dueAt?: number | null };
}

export interface Fence {
  runId: string;
  token: number;
}
