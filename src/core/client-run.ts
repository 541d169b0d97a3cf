import type { Message, RunAgentInput } from "@ag-ui/core";
import type { RunInput } from "./types.js";

/**
 * The run input of a client's `RunAgentInput` (CopilotKit's `/agent/:id/run` and the CopilotKit
 * runner): the client's messages (the store keeps only those the thread has not seen), minus
 * activity messages (UI-only, never sent to agents), and its state only when it says something —
 * a fresh chat sends `{}`, which must not wipe the thread's state.
 */
export function clientRunInput(input: RunAgentInput): RunInput {
  return {
    messages: input.messages.filter((m: Message) => m.role !== "activity"),
    ...(meaningfulState(input.state) ? { state: input.state } : {}),
    forwardedProps: input.forwardedProps,
    tools: input.tools,
    context: input.context,
    ...(input.resume ? { resume: input.resume } : {}),
  };
}

function meaningfulState(state: unknown): boolean {
  if (state === undefined || state === null) return false;
  return !(typeof state === "object" && !Array.isArray(state) && Object.keys(state).length === 0);
}
