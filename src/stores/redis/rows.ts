import type { BaseEvent, Message } from "@ag-ui/core";
import type {
  EventRecord,
  RunActor,
  RunRecord,
  RunStatus,
  ThreadSummary,
  ThreadView,
} from "../../core/types.js";

/** Replies as ioredis returns them, and their mapping to the store's records. */

/** The parts of a run that never change after it was queued (field `in`). */
export interface StaticRun {
  agentId: string;
  trigger: RunRecord["trigger"];
  input: RunRecord["input"];
  createdAt: number;
  /** Who started the run. */
  by?: RunActor;
}

export function staticRunOf(run: RunRecord): string {
  const s: StaticRun = {
    agentId: run.agentId,
    trigger: run.trigger,
    input: run.input,
    createdAt: run.createdAt,
    ...(run.startedBy ? { by: run.startedBy } : {}),
  };
  return JSON.stringify(s);
}

/** A flat HGETALL reply `[field, value, ...]` as an object. */
export function hashOf(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export function summaryOf(threadId: string, h: Record<string, string>): ThreadSummary {
  return {
    threadId,
    createdAt: Number(h.ca),
    updatedAt: Number(h.ua),
    lastSeq: Number(h.seq ?? 0),
    horizon: Number(h.hz ?? 0),
    activeRunId: h.act ?? null,
    metadata: JSON.parse(h.meta ?? "{}") as Record<string, unknown>,
  };
}

export function viewOf(
  threadId: string,
  h: Record<string, string>,
  messages: readonly (string | null)[],
): ThreadView {
  return {
    ...summaryOf(threadId, h),
    messages: messages.filter((m) => m !== null).map((m) => JSON.parse(m) as Message),
    state: JSON.parse(h.state ?? "{}") as unknown,
  };
}

/** Run fields in `RUN_FIELDS` order: in, st, sa, ea, ss, er, lo, lt, le, cr, cb. */
export type RunFields = readonly (string | null)[];

/** Optional fields are left out rather than set to undefined, as the memory store does. */
export function runOf(threadId: string, runId: string, r: RunFields): RunRecord | null {
  const [stat, status, startedAt, endedAt, startSeq, error, owner, token, expiresAt, cancel, by] =
    r;
  if (!stat || !status) return null;
  const s = JSON.parse(stat) as StaticRun;
  const run: RunRecord = {
    runId,
    threadId,
    agentId: s.agentId,
    trigger: s.trigger,
    status: status as RunStatus,
    input: s.input,
    createdAt: s.createdAt,
  };
  if (startedAt) run.startedAt = Number(startedAt);
  if (endedAt) run.endedAt = Number(endedAt);
  if (startSeq) run.startSeq = Number(startSeq);
  if (error) run.error = JSON.parse(error) as { code: string; message: string };
  if (owner && token && expiresAt) {
    run.lease = { owner, token: Number(token), expiresAt: Number(expiresAt) };
  }
  if (cancel === "1") run.cancelRequested = true;
  if (s.by) run.startedBy = s.by;
  if (by) run.cancelledBy = JSON.parse(by) as RunActor;
  return run;
}

/** An XRANGE entry `[id, [field, value, ...]]` as a record. */
export function recordOf(entry: [string, string[]]): EventRecord {
  const [id, flat] = entry;
  const h = hashOf(flat);
  return {
    seq: Number(id.slice(0, id.indexOf("-"))),
    runId: h.r ?? "",
    at: Number(h.a),
    event: JSON.parse(h.e ?? "null") as BaseEvent,
  };
}

/** JSON text; `undefined` (which JSON cannot hold) is stored as null. */
export function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}
