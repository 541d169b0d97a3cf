import { AbstractAgent, HttpAgent } from "@ag-ui/client";
import type { BaseEvent, Message, RunAgentInput } from "@ag-ui/core";

/**
 * Runs an agent the way CopilotKit's runners do — `agent.runAgent(input, { onEvent })` — so
 * agents that override `runAgent` work. For agents that keep @ag-ui/client's own `runAgent`,
 * the history is handed to `run()` by a middleware while `agent.messages` stays empty: the
 * client's apply step deep-copies `agent.messages` on every event, which would make each event
 * cost as much as the thread's whole history.
 */
export function runAgentWithHistory(
  agent: AbstractAgent,
  input: RunAgentInput,
  onEvent: (event: BaseEvent) => Promise<void> | undefined,
): Promise<unknown> {
  agent.threadId = input.threadId;
  agent.state = structuredClone(input.state);
  const visible = input.messages.filter((m: Message) => m.role !== "activity");
  if (usesStockRunAgent(agent)) {
    agent.messages = [];
    agent.use((i: RunAgentInput, next: AbstractAgent) => next.run({ ...i, messages: visible }));
  } else {
    agent.messages = visible;
  }
  return agent.runAgent(
    {
      runId: input.runId,
      tools: input.tools,
      context: input.context,
      forwardedProps: input.forwardedProps,
    },
    { onEvent: ({ event }) => onEvent(event as BaseEvent) },
  );
}

function usesStockRunAgent(agent: AbstractAgent): boolean {
  return (
    agent.runAgent === AbstractAgent.prototype.runAgent ||
    agent.runAgent === HttpAgent.prototype.runAgent
  );
}
