import { ThreadlineError } from "./errors.js";
import type { TriggerKind } from "./types.js";

/**
 * Run ids Threadline derives itself. Each names one exact thing — a schedule tick, a webhook
 * delivery, a compact snapshot — and the store refuses a second run with an id it has seen, which
 * is what makes ticks and deliveries exactly-once. A caller that could choose such an id would
 * silently suppress the real tick or delivery, so each namespace belongs to the trigger kinds
 * that derive ids in it, and no one else may start a run there.
 */
const NAMESPACES: readonly { prefix: string; kinds: readonly TriggerKind[]; what: string }[] = [
  { prefix: "schedule:", kinds: ["schedule", "heartbeat"], what: "schedule ticks" },
  { prefix: "hook:", kinds: ["webhook"], what: "webhook deliveries" },
  // Compact replays show a synthetic run `threadline-snapshot-<seq>`; no real run may look alike.
  // Threadline's own runs (an interrupt's expiry, `threadline-expiry-<seq>`) live there too.
  { prefix: "threadline-", kinds: ["system"], what: "snapshots, interrupt expiries" },
];

/** The run of one schedule tick. */
export const scheduleRunId = (scheduleId: string, fireAt: string): string =>
  `schedule:${scheduleId}:${fireAt}`;

/** The run of one webhook delivery (`digest` names the delivery). */
export const hookRunId = (hookId: string, digest: string): string => `hook:${hookId}:${digest}`;

/** The synthetic run a compact replay summarises the thread with, as of `seq`. */
export const snapshotRunId = (seq: number): string => `threadline-snapshot-${seq}`;

/** Throws 400 VALIDATION_FAILED when `runId` is in a namespace `kind` does not own. */
export function checkRunId(runId: string, kind: TriggerKind): void {
  for (const ns of NAMESPACES) {
    if (runId.startsWith(ns.prefix) && !ns.kinds.includes(kind)) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `invalid runId: ids starting with '${ns.prefix}' are reserved for runs Threadline ` +
          `derives itself (${ns.what})`,
        { details: [{ path: ["runId"], message: `reserved prefix '${ns.prefix}'` }] },
      );
    }
  }
}
