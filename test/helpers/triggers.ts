import type { BaseEvent } from "@ag-ui/core";
import type { InputTemplate } from "../../src/core/scheduler/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import type { RunRecord, RunTrigger } from "../../src/core/types.js";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../src/protocol.js";
import type { Threadline } from "../../src/threadline.js";
import { waitFor } from "./wait-for.js";

/** A schedule input template that makes the demo agent answer at once. */
export const fastInput = (prompt = "tick"): InputTemplate => ({
  messages: [{ role: "user", content: prompt }],
  forwardedProps: { demo: { delayMs: 0, tokens: 2 } },
});

/** Every run of a thread in the order they ran (their RUN_STARTED's seq; backends may tie on time). */
export async function runsOf(store: ThreadStore, threadId: string): Promise<RunRecord[]> {
  const runs = await store.runs.list(threadId, { limit: 1000 });
  return runs.sort((a, b) => (a.startSeq ?? Infinity) - (b.startSeq ?? Infinity));
}

/** Waits until the thread has exactly `n` runs, all ended; returns them oldest first. */
export async function settledRuns(
  store: ThreadStore,
  threadId: string,
  n: number,
): Promise<RunRecord[]> {
  return waitFor(async () => {
    const runs = await runsOf(store, threadId);
    if (runs.length > n) throw new Error(`expected ${n} runs on ${threadId}, got ${runs.length}`);
    return runs.length === n && runs.every((r) => TERMINAL_RUN_STATUSES.has(r.status))
      ? runs
      : undefined;
  }, `${n} finished runs on ${threadId}`);
}

export const triggerOf = (e: BaseEvent): RunTrigger | undefined =>
  (e as { metadata?: { threadline?: { trigger?: RunTrigger } } }).metadata?.threadline?.trigger;

/** POSTs a signed webhook delivery through the in-process app. */
export function postHook(
  tl: Threadline,
  hookId: string,
  payload: unknown,
  opts: { secret: string; delivery?: string; timestampSec?: number; signature?: string | null },
): Promise<Response> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { "content-type": "application/json" };
  const t = opts.timestampSec ?? Math.floor(tl.scheduler.clock.now() / 1000);
  if (opts.signature !== null) {
    headers[HEADER_SIGNATURE] =
      opts.signature ??
      signWebhook(opts.secret, body, {
        timestampSec: t,
        ...(opts.delivery === undefined ? {} : { deliveryId: opts.delivery }),
      });
  }
  if (opts.delivery !== undefined) headers[HEADER_DELIVERY] = opts.delivery;
  return Promise.resolve(tl.app.request(`/hooks/${hookId}`, { method: "POST", body, headers }));
}
