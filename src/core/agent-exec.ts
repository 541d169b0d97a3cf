import { AbstractAgent, type AgentSubscriber, HttpAgent } from "@ag-ui/client";
import type { BaseEvent, RunAgentInput } from "@ag-ui/core";
import { concatMap, materialize, type Observable } from "rxjs";

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
  // `input.messages` are agent-visible already (ViewBuilder.agentMessages drops activity ones).
  const visible = input.messages;
  if (usesStockRunAgent(agent)) {
    agent.messages = [];
    agent.use((i: RunAgentInput, next: AbstractAgent) => next.run({ ...i, messages: visible }));
    if (usesStockApply(agent)) skipMessageFolding(agent);
  } else {
    // Its own runAgent may add to `agent.messages` in place; the view's array is reused by the
    // thread's next run, so this path (which copies the history itself anyway) gets a copy.
    agent.messages = visible.slice();
  }
  // Threadline validated the resume against the thread's pending interrupts (interrupts.ts);
  // an agent instance reused across runs must not refuse it from its own, older bookkeeping.
  (agent as unknown as { pendingInterrupts?: unknown[] }).pendingInterrupts = [];
  return agent.runAgent(
    {
      runId: input.runId,
      tools: input.tools,
      context: input.context,
      forwardedProps: input.forwardedProps,
      ...(input.resume ? { resume: input.resume } : {}),
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

type ApplyFn = (
  input: RunAgentInput,
  events$: Observable<BaseEvent>,
  subscribers: AgentSubscriber[],
) => Observable<object>;

function usesStockApply(agent: AbstractAgent): boolean {
  return (
    (agent as unknown as { apply: ApplyFn }).apply ===
    (AbstractAgent.prototype as unknown as { apply: ApplyFn }).apply
  );
}

/**
 * The per-run clone's apply step only feeds our `onEvent`: the thread's materialized view is the
 * writer's, so folding every event into the clone's own `messages` (what the stock step does,
 * with a deep copy per event) is work nobody reads. Verification and chunk expansion, which run
 * before apply, stay as they are.
 */
function skipMessageFolding(agent: AbstractAgent): void {
  // `apply` is protected in the typings; replacing it on this one throwaway clone is deliberate.
  (agent as unknown as { apply: ApplyFn }).apply = (input, events$, subscribers) =>
    // Materialized: an agent that emits and then errors at once must not lose what it emitted.
    // concatMap drops the values still queued behind a slow (async) one when its source errors,
    // so the error travels as one more queued item and is rethrown in order.
    events$.pipe(
      materialize(),
      concatMap(async (n) => {
        if (n.kind === "E") throw n.error;
        if (n.kind === "N") {
          const event = n.value;
          for (const s of subscribers) {
            await s.onEvent?.({
              event,
              agent,
              input,
              messages: agent.messages,
              state: agent.state,
            });
          }
        }
        return {};
      }),
    );
}
