import type { Message } from "@ag-ui/core";
import { z } from "zod";
import type { RunRecord } from "./types.js";

/**
 * What a run's agent sees of the thread (`RunAgentInput.messages`): by default the whole view;
 * with a window, a bounded part of it, so a heartbeat's prompt does not grow with the thread.
 * The thread's log and view are unchanged (retention bounds those, `retention.ts`).
 */

/** A window given as data: in a run's input (`history`), a schedule's input template. */
export interface HistoryWindow {
  /** The newest N messages of the view (never starting with a tool result cut from its call). */
  lastMessages?: number;
}

export const historyWindowSchema = z.strictObject({
  lastMessages: z.number().int().positive().max(100_000).optional(),
});

/** What a history hook is given. */
export interface HistoryContext {
  /** The thread's messages, the run's new input messages included (agent-visible ones only). */
  messages: readonly Message[];
  /** The state the run starts with. */
  state: unknown;
  run: RunRecord;
}

/** Per agent (`ThreadlineOptions.history`): a window, or a hook that builds the input itself. */
export interface AgentHistory extends HistoryWindow {
  /** Builds the run's messages from the view (e.g. a summary message plus the last turns). */
  build?: (context: HistoryContext) => Message[] | Promise<Message[]>;
}

/**
 * The newest `lastMessages` messages. A window that would start with tool results whose
 * assistant tool call fell outside it starts after them instead: model APIs refuse a tool
 * message without its call.
 */
export function lastMessagesOf(messages: readonly Message[], lastMessages: number): Message[] {
  if (messages.length <= lastMessages) return messages.slice();
  let from = messages.length - lastMessages;
  while (from < messages.length && messages[from]!.role === "tool") from += 1;
  return messages.slice(from);
}

/**
 * The messages a run's agent gets. The run's own window (`input.history`: a request's or its
 * schedule's) wins over the agent's (`ThreadlineOptions.history[agentId]`); without either, the
 * whole view. An agent's hook applies when the run names no window of its own.
 */
export async function agentHistory(
  context: HistoryContext,
  agent: AgentHistory | undefined,
): Promise<Message[]> {
  const own = context.run.input.history;
  if (own?.lastMessages !== undefined) return lastMessagesOf(context.messages, own.lastMessages);
  if (agent?.build) return agent.build(context);
  if (agent?.lastMessages !== undefined)
    return lastMessagesOf(context.messages, agent.lastMessages);
  return context.messages as Message[];
}
