import { MessageSchema } from "@ag-ui/core";
import type { z } from "zod";

/**
 * Adds @ag-ui/core's reasons why `value` is not an AG-UI message, each at its field
 * (`messages.0.content: is required (in an AG-UI user message)`), rather than one bare
 * "invalid". Shared by request bodies and schedule input templates.
 */
export function addMessageIssues(value: unknown, ctx: z.RefinementCtx): void {
  const result = MessageSchema.safeParse(value);
  if (result.success) return;
  const role = (value as { role?: unknown } | null)?.role;
  const kind = typeof role === "string" ? `an AG-UI ${role} message` : "an AG-UI message";
  for (const issue of result.error.issues.slice(0, 3)) {
    const field = issue.path.join(".");
    let why = issue.message === "Required" ? "is required" : issue.message;
    if (field === "content" && issue.code === "invalid_union") {
      why = "must be a string (or, in a user message, an array of content parts)";
    }
    if (issue.path.length === 0 && issue.code === "invalid_type") {
      why = "must be an object like { role: 'user', content: 'hi' }";
    }
    ctx.addIssue({ code: "custom", path: issue.path, message: `${why} (in ${kind})` });
  }
}
