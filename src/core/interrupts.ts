import type { BaseEvent, Interrupt, ResumeEntry } from "@ag-ui/core";

/**
 * Pending interrupts (PROTOCOL.md §3.1): the human-in-the-loop questions a thread waits on, in
 * AG-UI's own terms (`RUN_FINISHED.outcome = { type: "interrupt", interrupts }`, answered by a
 * later run's `RunAgentInput.resume`). The one rule of how the log changes them lives here; the
 * view (`view.ts`) applies it per event and stores persist the result with the append; the
 * inspector page folds its follow stream with it too, so this module imports no runtime code
 * (no zod, no @ag-ui/core enums: the page stays small). The `resume` schema: `resume-schema.ts`.
 */
export type PendingInterrupt = Interrupt;

/** The interrupts a terminal event raises: those of an `interrupt` outcome, else none. */
export function interruptsOf(event: BaseEvent): Interrupt[] | undefined {
  if ((event.type as string) !== "RUN_FINISHED") return undefined;
  const outcome = (event as { outcome?: unknown }).outcome;
  if (!outcome || typeof outcome !== "object") return undefined;
  const o = outcome as { type?: unknown; interrupts?: unknown };
  if (o.type !== "interrupt" || !Array.isArray(o.interrupts)) return undefined;
  return o.interrupts.filter(
    (i): i is Interrupt =>
      !!i && typeof i === "object" && typeof (i as { id?: unknown }).id === "string",
  );
}

/** The resume entries a RUN_STARTED carries in its input. */
export function resumeOf(event: BaseEvent): ResumeEntry[] | undefined {
  if ((event.type as string) !== "RUN_STARTED") return undefined;
  const resume = (event as { input?: { resume?: unknown } }).input?.resume;
  return Array.isArray(resume) ? (resume as ResumeEntry[]) : undefined;
}

/**
 * The pending interrupts after `event`, or `undefined` when it leaves them as they were:
 * - a run's RUN_STARTED whose input `resume`s some of them answers those (they are no longer
 *   pending, whatever the run does next: the answer is in the log, in that RUN_STARTED);
 * - a RUN_FINISHED with an `interrupt` outcome makes its interrupts the pending ones (AG-UI: the
 *   outcome lists every interrupt the thread now waits on);
 * - nothing else changes them (a run that ends otherwise raises none).
 */
export function pendingAfter(
  pending: readonly Interrupt[],
  event: BaseEvent,
): Interrupt[] | undefined {
  const raised = interruptsOf(event);
  if (raised) return raised;
  const resume = resumeOf(event);
  if (!resume || pending.length === 0) return undefined;
  const answered = new Set(resume.map((r) => r?.interruptId));
  const left = pending.filter((i) => !answered.has(i.id));
  return left.length === pending.length ? undefined : left;
}

/** The RUN_FINISHED outcome that states pending interrupts (the compact snapshot's run end). */
export function interruptOutcome(pending: readonly Interrupt[]): {
  type: "interrupt";
  interrupts: Interrupt[];
} {
  return { type: "interrupt", interrupts: [...pending] };
}
