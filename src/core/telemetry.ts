import type { Interrupt } from "@ag-ui/core";
import type { RunRecord, RunStatus } from "./types.js";

/** How a run ended, as observers see it. */
export interface RunEnd {
  status: RunStatus;
  /** The RUN_ERROR code of a failed or interrupted run. */
  errorCode?: string;
  /** Events the run wrote (when this process executed it). */
  events?: number;
  /**
   * The interrupts the run asked (its RUN_FINISHED's `interrupt` outcome: the thread now waits
   * on them), when this process executed it; absent when it asked none.
   */
  interrupts?: Interrupt[];
  /** When it ended (epoch ms). */
  at: number;
}

/** Why a follower left the live tail: `slow` (cut off, it stopped reading), `overflow` (its live queue overflowed; it continued from the store). */
export type CutOffReason = "slow" | "overflow";

/**
 * What the runtime tells its observers (metrics, the run log): run transitions, store calls,
 * followers, schedule ticks, webhook deliveries. Every method is optional; a call costs nothing
 * when nobody listens. Observers must not throw (a throw is swallowed, see `composeTelemetry`).
 */
export interface Telemetry {
  /** A run was accepted (queued) by this process. */
  runQueued?(run: RunRecord): void;
  /** This process claimed a run and starts executing it. */
  runStarted?(run: RunRecord, at: number): void;
  /** The first event the agent of a run sent. */
  runFirstEvent?(run: RunRecord, at: number): void;
  /** A run ended: executed here, cancelled while queued, or closed by recovery. */
  runEnded?(run: RunRecord, end: RunEnd): void;
  /** A store call: `op` (`append`, `read`, ...), its duration, whether it failed, events appended. */
  storeCall?(op: string, seconds: number, failed: boolean, events?: number): void;
  followerOpened?(): void;
  followerClosed?(): void;
  followerBytes?(bytes: number): void;
  followerCutOff?(reason: CutOffReason): void;
  /** A schedule tick fired `lagSeconds` after its time. */
  scheduleFired?(lagSeconds: number): void;
  /** A tick was missed (skipped, or folded into one catch-up run). */
  scheduleMissed?(): void;
  /** A webhook delivery and what became of it. */
  webhookDelivery?(hookId: string, outcome: WebhookOutcome): void;
}

export type WebhookOutcome = "accepted" | "duplicate" | "unauthorized" | "invalid" | "failed";

type Method = keyof Telemetry;
const METHODS: readonly Method[] = [
  "runQueued",
  "runStarted",
  "runFirstEvent",
  "runEnded",
  "storeCall",
  "followerOpened",
  "followerClosed",
  "followerBytes",
  "followerCutOff",
  "scheduleFired",
  "scheduleMissed",
  "webhookDelivery",
];

/**
 * One telemetry of several: each method calls every part that has it, and a part that throws
 * never breaks the run or the request it observes.
 */
export function composeTelemetry(parts: readonly (Telemetry | undefined)[]): Telemetry {
  const present = parts.filter((p): p is Telemetry => p !== undefined);
  const out: Telemetry = {};
  for (const name of METHODS) {
    const fns = present
      .map((p) => p[name]?.bind(p) as ((...args: unknown[]) => void) | undefined)
      .filter((f): f is (...args: unknown[]) => void => f !== undefined);
    if (fns.length === 0) continue;
    (out as Record<string, (...args: unknown[]) => void>)[name] = (...args: unknown[]) => {
      for (const f of fns) {
        try {
          f(...args);
        } catch {
          // An observer's failure is not the run's.
        }
      }
    };
  }
  return out;
}
