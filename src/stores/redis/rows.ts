import type { BaseEvent, Interrupt, Message } from "@ag-ui/core";
import type * as T from "../../core/types.js";

import { runRecordOf } from "../records.js";

/** Replies as ioredis returns them, and their mapping to the store's records. */

/** The parts of a run that never change after it was queued (field `in`). */
export interface StaticRun {
  agentId: string;
  trigger: T.RunRecord["trigger"];
  input: T.RunRecord["input"];
  createdAt: number;
  /** Who started the run. */
  by?: T.RunActor;
  /** The trace context of the request that asked for it. */
  tp?: T.TraceParent;
}

export function staticRunOf(run: T.RunRecord): string {
  const s: StaticRun = {
    agentId: run.agentId,
    trigger: run.trigger,
    input: run.input,
    createdAt: run.createdAt,
    ...(run.startedBy ? { by: run.startedBy } : {}),
    ...(run.trace ? { tp: run.trace } : {}),
  };
  return JSON.stringify(s);
}

/** A flat HGETALL reply `[field, value, ...]` as an object. */
export function hashOf(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export function summaryOf(threadId: string, h: Record<string, string>): T.ThreadSummary {
  return {
    threadId,
    createdAt: Number(h.ca),
    updatedAt: Number(h.ua),
    lastSeq: Number(h.seq ?? 0),
    horizon: Number(h.hz ?? 0),
    activeRunId: h.act ?? null,
    metadata: JSON.parse(h.meta ?? "{}") as Record<string, unknown>,
    interrupts: JSON.parse(h.intr ?? "[]") as Interrupt[],
  };
}

export function viewOf(
  threadId: string,
  h: Record<string, string>,
  messages: readonly (string | null)[],
): T.ThreadView {
  return {
    ...summaryOf(threadId, h),
    messages: messages.filter((m) => m !== null).map((m) => JSON.parse(m) as Message),
    state: JSON.parse(h.state ?? "{}") as unknown,
  };
}

/** Run fields in `RUN_FIELDS` order: in, st, sa, ea, ss, er, lo, lt, le, cr, cb. */
export type RunFields = readonly (string | null)[];

/** Optional fields are left out rather than set to undefined, as the memory store does. */
export function runOf(threadId: string, runId: string, r: RunFields): T.RunRecord | null {
  const [stat, status, startedAt, endedAt, startSeq, error, owner, token, expiresAt, cancel, by] =
    r;
  if (!stat || !status) return null;
  const { by: startedBy, tp, ...s } = JSON.parse(stat) as StaticRun;
  return runRecordOf({
    ...s,
    runId,
    threadId,
    status: status as T.RunStatus,
    startedAt: startedAt ? Number(startedAt) : null,
    endedAt: endedAt ? Number(endedAt) : null,
    startSeq: startSeq ? Number(startSeq) : null,
    error: error ? (JSON.parse(error) as { code: string; message: string }) : null,
    leaseOwner: owner || null,
    leaseToken: token ? Number(token) : null,
    leaseExpiresAt: expiresAt ? Number(expiresAt) : null,
    cancelRequested: cancel === "1",
    startedBy: startedBy ?? null,
    trace: tp ?? null,
    cancelledBy: by ? (JSON.parse(by) as T.RunActor) : null,
  });
}

/** An XRANGE entry `[id, [field, value, ...]]` as a record. */
export function recordOf(entry: [string, string[]]): T.EventRecord {
  const [id, flat] = entry;
  const h = hashOf(flat);
  return {
    seq: Number(id.slice(0, id.indexOf("-"))),
    runId: h.r ?? "",
    at: Number(h.a),
    event: JSON.parse(h.e ?? "null") as BaseEvent,
  };
}

/** A log entry with its event as stored (`readText`). */
export function textOf(entry: [string, string[]]): T.EventText {
  const [id, flat] = entry;
  let runId = "";
  let json = "null";
  // The entry's fields without building a hash of them.
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === "r") runId = flat[i + 1]!;
    else if (flat[i] === "e") json = flat[i + 1]!;
  }
  return { seq: Number.parseInt(id, 10), runId, json };
}

export { json } from "../records.js";
