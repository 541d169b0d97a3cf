import type { Interrupt, ResumeEntry } from "@ag-ui/core";
import { Ajv, type ValidateFunction } from "ajv";
import { ThreadlineError } from "./errors.js";

/**
 * Whether a run's `resume` may answer the thread's pending interrupts (PROTOCOL.md §3.1.4): the
 * one check every way a run starts goes through (`Coordinator.startRun`), before anything is
 * stored. Throws the ThreadlineError the request gets:
 * - an entry for an interrupt that is not pending: `404 INTERRUPT_NOT_FOUND`;
 * - two entries for one interrupt: `400 VALIDATION_FAILED`;
 * - a pending interrupt no entry addresses: `409 INTERRUPTS_PENDING` (a run on a thread that
 *   waits for a person must answer it, resolved or cancelled, as `@ag-ui/client` requires);
 * - `resolved` after its `expiresAt` (on the server's clock): `409 INTERRUPT_EXPIRED` (it may
 *   still be cancelled, as in AG-UI 1.0);
 * - a `resolved` payload its `responseSchema` (JSON Schema) refuses: `400 VALIDATION_FAILED`,
 *   with the schema's errors in `details`.
 */
export function checkResume(
  pending: readonly Interrupt[],
  resume: readonly ResumeEntry[] | undefined,
  now: number,
): void {
  const entries = resume ?? [];
  if (pending.length === 0 && entries.length === 0) return;
  const byId = new Map(pending.map((i) => [i.id, i]));
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.interruptId)) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `resume: interrupt '${entry.interruptId}' is answered twice`,
      );
    }
    seen.add(entry.interruptId);
    if (!byId.has(entry.interruptId)) {
      throw new ThreadlineError(
        "INTERRUPT_NOT_FOUND",
        `resume: the thread has no pending interrupt '${entry.interruptId}'`,
        { details: { interruptId: entry.interruptId, pending: [...byId.keys()] } },
      );
    }
  }
  const missing = pending.filter((i) => !seen.has(i.id)).map((i) => i.id);
  if (missing.length > 0) {
    throw new ThreadlineError(
      "INTERRUPTS_PENDING",
      `the thread waits on ${missing.length} interrupt(s) the run's resume does not answer: ${missing.join(", ")} (resolve or cancel each)`,
      { details: { missing } },
    );
  }
  for (const entry of entries) {
    if (entry.status !== "resolved") continue;
    const interrupt = byId.get(entry.interruptId)!;
    if (isExpired(interrupt, now)) {
      throw new ThreadlineError(
        "INTERRUPT_EXPIRED",
        `interrupt '${interrupt.id}' expired at ${interrupt.expiresAt} and can no longer be resolved (cancel it to continue the thread)`,
        { details: { interruptId: interrupt.id, expiresAt: interrupt.expiresAt } },
      );
    }
    checkPayload(interrupt, entry.payload);
  }
}

/** An `expiresAt` that is not a date never expires (it cannot be compared). */
export function isExpired(interrupt: Interrupt, now: number): boolean {
  if (interrupt.expiresAt === undefined) return false;
  const at = Date.parse(interrupt.expiresAt);
  return Number.isFinite(at) && at <= now;
}

// One validator per distinct schema, compiled once; bounded (schemas come from agents).
const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction | null>();
const MAX_COMPILED = 500;

function validatorOf(schema: Record<string, unknown>): ValidateFunction | null {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (v === undefined) {
    try {
      v = ajv.compile(schema);
    } catch {
      // A schema Ajv cannot compile is the agent's bug: the payload cannot be checked, and a
      // person must still be able to answer.
      v = null;
    }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, v);
  }
  return v;
}

function checkPayload(interrupt: Interrupt, payload: unknown): void {
  if (!interrupt.responseSchema) return;
  const validate = validatorOf(interrupt.responseSchema);
  if (!validate || validate(payload)) return;
  const errors = (validate.errors ?? []).map((e) => ({
    path: e.instancePath || "/",
    message: e.message ?? "is invalid",
  }));
  throw new ThreadlineError(
    "VALIDATION_FAILED",
    `resume: the payload for interrupt '${interrupt.id}' does not match its responseSchema: ${errors
      .map((e) => `${e.path} ${e.message}`)
      .join("; ")}`,
    { details: { interruptId: interrupt.id, errors } },
  );
}
