import { ThreadlineError } from "./errors.js";
import type { ThreadStore } from "./store.js";

/** How long the store may take to answer the readiness probe. */
export const READY_TIMEOUT_MS = 2_000;

/** A thread id the API cannot create (ids are validated): the probe only reads. */
const PROBE_THREAD = "#readyz";

export interface Readiness {
  ready: boolean;
  /** Which check failed, for people (and load balancers' logs). */
  reason?: string;
  /** The error code to answer with: `DATA_LOST` when the store lost its data, else unset. */
  code?: "DATA_LOST";
  /** The underlying error, when there is one. */
  cause?: unknown;
}

/**
 * Whether this instance can serve requests: start-up recovery done, not shutting down, and the
 * store answers a read within `timeoutMs`. Liveness (the process runs) is a separate question:
 * a store outage makes an instance unready, never dead.
 */
export async function checkReadiness(opts: {
  store: ThreadStore;
  started: Promise<void>;
  closing: () => boolean;
  timeoutMs?: number;
}): Promise<Readiness> {
  if (opts.closing()) return { ready: false, reason: "shutting down" };
  const timeoutMs = opts.timeoutMs ?? READY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    const startup = await Promise.race([opts.started.then(() => "done" as const), late]);
    if (startup === "late") return { ready: false, reason: "start-up recovery has not finished" };
  } catch (cause) {
    clearTimeout(timer);
    return { ready: false, reason: "start-up recovery failed", cause };
  }
  try {
    const probe = await Promise.race([
      opts.store.threads.head(PROBE_THREAD).then(() => "ok" as const),
      late,
    ]);
    if (probe === "late") {
      return {
        ready: false,
        reason: `the ${opts.store.kind} store did not answer within ${timeoutMs} ms`,
      };
    }
    return { ready: true };
  } catch (cause) {
    if (ThreadlineError.is(cause, "DATA_LOST")) {
      // Not a driver's text: said even to callers without the token, it names what to do.
      return { ready: false, code: "DATA_LOST", reason: cause.message };
    }
    return { ready: false, reason: `the ${opts.store.kind} store is unavailable`, cause };
  } finally {
    clearTimeout(timer);
  }
}
