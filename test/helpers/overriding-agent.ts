import {
  AbstractAgent,
  type AgentSubscriber,
  type RunAgentParameters,
  type RunAgentResult,
} from "@ag-ui/client";
import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { EMPTY, type Observable } from "rxjs";

/**
 * An agent written the way some CopilotKit agents are: it overrides `runAgent` and reports its
 * events through `onEvent`, while `run()` yields nothing. It records what it was asked.
 */
export class OverridingAgent extends AbstractAgent {
  seen: { messages: string[]; forwardedProps: unknown } | undefined;
  clones = 0;

  override run(_input: RunAgentInput): Observable<BaseEvent> {
    return EMPTY;
  }

  override clone(): OverridingAgent {
    this.clones += 1;
    return new OverridingAgent();
  }

  override async runAgent(
    parameters?: RunAgentParameters,
    subscriber?: AgentSubscriber,
  ): Promise<RunAgentResult> {
    const input = this.prepareRunAgentInput(parameters);
    this.seen = {
      messages: input.messages.map((m) => String(m.content)),
      forwardedProps: input.forwardedProps,
    };
    const emit = async (event: BaseEvent) => {
      await subscriber?.onEvent?.({ event, agent: this, input, messages: [], state: {} });
    };
    await emit({ type: EventType.RUN_STARTED, threadId: this.threadId, runId: input.runId });
    await emit({
      type: EventType.TEXT_MESSAGE_START,
      messageId: `r-${input.runId}`,
      role: "assistant",
    } as BaseEvent);
    await emit({
      type: EventType.TEXT_MESSAGE_CONTENT,
      messageId: `r-${input.runId}`,
      delta: "overridden",
    } as BaseEvent);
    await emit({ type: EventType.TEXT_MESSAGE_END, messageId: `r-${input.runId}` } as BaseEvent);
    await emit({ type: EventType.RUN_FINISHED, threadId: this.threadId, runId: input.runId });
    return { result: undefined, newMessages: [] };
  }
}
