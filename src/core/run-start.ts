import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { METADATA_KEY } from "../protocol.js";
import type { RunRecord, RunTrigger } from "./types.js";
import type { ViewBuilder } from "./view.js";

/**
 * The input a run's RUN_STARTED carries: the run's messages the thread has not seen (only those,
 * as CopilotKit's runners do, so every follower sees the prompt once), its state or the
 * thread's, and what the trigger forwarded. Written by the run's executor, and by recovery when
 * the executor died before it could (the prompt must reach the log either way).
 */
export function startedInput(run: RunRecord, view: ViewBuilder): RunAgentInput {
  return {
    threadId: run.threadId,
    runId: run.runId,
    messages: (run.input.messages ?? []).filter((m) => !view.has(m.id)),
    state: run.input.state ?? view.state ?? {},
    tools: run.input.tools ?? [],
    context: run.input.context ?? [],
    forwardedProps: run.input.forwardedProps ?? {},
    // The answers to pending interrupts travel in the log like the prompt (interrupts.ts).
    ...(run.input.resume ? { resume: run.input.resume } : {}),
  };
}

/** Threadline's RUN_STARTED of a run: its input and its provenance (`metadata.threadline`). */
export function runStartedEvent(
  input: RunAgentInput,
  trigger: RunTrigger,
  agentId: string,
): BaseEvent {
  return {
    type: EventType.RUN_STARTED,
    threadId: input.threadId,
    runId: input.runId,
    input,
    metadata: { [METADATA_KEY]: { trigger, agentId } },
  } as BaseEvent;
}
