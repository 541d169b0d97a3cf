import type { ResumeEntry } from "@ag-ui/core";
import { z } from "zod";

/**
 * The shape of `RunAgentInput.resume` (PROTOCOL.md §3.1.2) as routes accept it; what the answers
 * must say about the thread's pending interrupts is `resume-check.ts`.
 */

/** One answer of `RunAgentInput.resume`, as AG-UI's `ResumeEntrySchema` defines it. */
export const resumeEntrySchema = z.looseObject({
  interruptId: z.string().min(1).max(200),
  status: z.enum(["resolved", "cancelled"]),
  payload: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
}) as unknown as z.ZodType<ResumeEntry>;

export const resumeSchema = z.array(resumeEntrySchema).max(1_000);
