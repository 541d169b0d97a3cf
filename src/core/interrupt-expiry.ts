import type { Interrupt, ResumeEntry } from "@ag-ui/core";
import { METADATA_KEY } from "../protocol.js";
import { ThreadlineError } from "./errors.js";
import type { RunRecord, RunTrigger } from "./types.js";

/**
 * Interrupt expiry (PROTOCOL.md §3.1.6-8): the one rule of when a thread's pending interrupts
 * fall due, what the system answers then, and how that answer's run is named and marked. The
 * writer's view computes `expiryDueAt` with every change of the pending interrupts, stores keep
 * it as their due index (`ThreadLog.interruptsDue`) and `InterruptExpirer` acts on it.
 */

/** What an expiry does: start the resume run (the agent continues) or only record it. */
export const EXPIRY_ACTIONS = ["resume", "record"] as const;
export type ExpiryAction = (typeof EXPIRY_ACTIONS)[number];

/** The source of every expiry run's trigger (`kind: "system"`). */
export const EXPIRY_SOURCE = "interrupt-expiry";

/** Thread metadata key (under `threadline`) choosing the thread's expiry action. */
export const EXPIRY_METADATA_KEY = "onInterruptExpiry";

/** The time an interrupt expires at, or null when it has none (or one that is not a date). */
export function expiresAtOf(interrupt: Interrupt): number | null {
  if (interrupt.expiresAt === undefined) return null;
  const at = Date.parse(interrupt.expiresAt);
  return Number.isFinite(at) ? at : null;
}

/**
 * When the system answers a thread's pending interrupts (§3.1.6): once **every** one of them has
 * expired, i.e. at the latest `expiresAt`; never while one has no `expiresAt` (it waits for a
 * person). One run must answer them all (rule 4), and the system may answer only `cancelled`
 * and only for an interrupt past its deadline, so an earlier deadline alone answers nothing: it
 * only stops that interrupt from being resolved (rule 4's INTERRUPT_EXPIRED).
 */
export function expiryDueAt(pending: readonly Interrupt[]): number | null {
  if (pending.length === 0) return null;
  let due = Number.NEGATIVE_INFINITY;
  for (const interrupt of pending) {
    const at = expiresAtOf(interrupt);
    if (at === null) return null;
    due = Math.max(due, at);
  }
  return due;
}

/** The system's answer: each pending interrupt cancelled, saying it expired and when. */
export function expiryResume(pending: readonly Interrupt[]): ResumeEntry[] {
  return pending.map((i) => ({
    interruptId: i.id,
    status: "cancelled",
    metadata: { [METADATA_KEY]: { expired: true, expiresAt: i.expiresAt } },
  }));
}

/**
 * The expiry run's id: one per pending generation, the same on every instance. While a
 * thread's interrupts are pending no run starts on it (each would answer them), so its last seq
 * is the seq of the RUN_FINISHED that raised them; the store refuses a second run with the id,
 * which makes the expiry exactly-once (as a tick's id does for schedules).
 */
export const expiryRunId = (lastSeq: number): string => `threadline-expiry-${lastSeq}`;

/** The provenance of an expiry run. */
export function expiryTrigger(dueAt: number, action: ExpiryAction, late: boolean): RunTrigger {
  return {
    kind: "system",
    source: EXPIRY_SOURCE,
    fireAt: new Date(dueAt).toISOString(),
    expiry: action,
    ...(late ? { catchUp: true } : {}),
  };
}

export const isExpiryRun = (run: Pick<RunRecord, "trigger">): boolean =>
  run.trigger.kind === "system" && run.trigger.source === EXPIRY_SOURCE;

/**
 * Whether a run is executed without its agent (§3.1.7): an expiry run in `record` mode, or one
 * whose interrupts are no longer pending when it starts (another answer won between the
 * expirer's read and its enqueue: the agent is not woken for nothing).
 */
export function recordsOnly(run: RunRecord, pendingNow: readonly Interrupt[]): boolean {
  if (!isExpiryRun(run)) return false;
  if (run.trigger.expiry === "record") return true;
  const pending = new Set(pendingNow.map((i) => i.id));
  return !(run.input.resume ?? []).every((r) => pending.has(r.interruptId));
}

/**
 * The expiry action for a thread (§3.1.8): its metadata `threadline.onInterruptExpiry`, else
 * the agent's setting, else the server's default (`resume`).
 */
export function expiryActionOf(
  metadata: Record<string, unknown>,
  agentId: string | undefined,
  config: { default?: ExpiryAction; agents?: Record<string, ExpiryAction> } = {},
): ExpiryAction {
  const own = (metadata[METADATA_KEY] as Record<string, unknown> | undefined)?.[
    EXPIRY_METADATA_KEY
  ];
  if (isExpiryAction(own)) return own;
  const byAgent = agentId === undefined ? undefined : config.agents?.[agentId];
  return byAgent ?? config.default ?? "resume";
}

export const isExpiryAction = (v: unknown): v is ExpiryAction =>
  typeof v === "string" && (EXPIRY_ACTIONS as readonly string[]).includes(v);

/** Parses a configured action (option, CLI flag, env), failing clearly. */
export function parseExpiryAction(value: unknown, where: string): ExpiryAction {
  if (isExpiryAction(value)) return value;
  throw new ThreadlineError(
    "VALIDATION_FAILED",
    `${where} must be ${EXPIRY_ACTIONS.join(" or ")}, got ${JSON.stringify(value)}`,
  );
}
