import type { ResumeEntry } from "@ag-ui/core";
import { z } from "zod";
import type { StartRunRequest, StartRunResult } from "./coordinator.js";
import { ThreadlineError } from "./errors.js";
import { resumeSchema } from "./resume-schema.js";
import type { ThreadStore } from "./store.js";
import type { RunActor } from "./types.js";

/** `POST /threads/:threadId/interrupts/:interruptId`'s body (PROTOCOL.md §3.1.5). */
export const resolveInterruptBodySchema = z.strictObject({
  status: z.enum(["resolved", "cancelled"]),
  payload: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** Answers to the thread's other pending interrupts (every one must be answered). */
  resume: resumeSchema.optional(),
  /** The agent of the resume run; default the agent of the thread's latest run. */
  agentId: z.string().min(1).max(200).optional(),
});

export type ResolveInterruptAnswer = z.infer<typeof resolveInterruptBodySchema>;

export interface ResolveInterruptRequest extends ResolveInterruptAnswer {
  threadId: string;
  interruptId: string;
  /** Who answered: recorded as the resume run's `startedBy`. */
  startedBy?: RunActor;
  /** The trigger's source: `interrupt` (default), `interrupt-link` for a signed link. */
  source?: string;
  traceparent?: StartRunRequest["traceparent"];
}

/**
 * Answers one pending interrupt from anywhere (an email link, a chat-ops button, the inspector)
 * by starting the resume run (PROTOCOL.md §3.1.5): its `resume` is this answer plus `resume`'s
 * answers to the other pending interrupts; the run-start check (`resume-check.ts`) then holds
 * it to the same rule as any run, before anything is stored. The run is a `client` run (a person
 * answered) from source `interrupt`, by the agent that raised it (the thread's latest run's)
 * unless the request names one, with multitask `reject`.
 */
export async function resolveInterrupt(
  deps: { store: ThreadStore; startRun(req: StartRunRequest): Promise<StartRunResult> },
  req: ResolveInterruptRequest,
): Promise<StartRunResult> {
  const head = await deps.store.threads.head(req.threadId);
  if (!head) throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${req.threadId}'`);
  if (!head.interrupts.some((i) => i.id === req.interruptId)) {
    throw new ThreadlineError(
      "INTERRUPT_NOT_FOUND",
      `thread '${req.threadId}' has no pending interrupt '${req.interruptId}'`,
      { details: { pending: head.interrupts.map((i) => i.id) } },
    );
  }
  const agentId =
    req.agentId ?? (await deps.store.runs.list(req.threadId, { limit: 1 }))[0]?.agentId;
  if (!agentId) {
    throw new ThreadlineError("VALIDATION_FAILED", "agentId: the thread has no run to resume");
  }
  const answer: ResumeEntry = {
    interruptId: req.interruptId,
    status: req.status,
    ...(req.payload === undefined ? {} : { payload: req.payload }),
    ...(req.metadata ? { metadata: req.metadata } : {}),
  };
  return deps.startRun({
    threadId: req.threadId,
    agentId,
    trigger: { kind: "client", source: req.source ?? "interrupt" },
    multitask: "reject",
    input: { resume: [answer, ...(req.resume ?? [])] },
    ...(req.startedBy ? { startedBy: req.startedBy } : {}),
    ...(req.traceparent ? { traceparent: req.traceparent } : {}),
  });
}
