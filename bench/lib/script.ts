import { type BaseEvent, EventType, type Message } from "@ag-ui/core";

/**
 * The scripted run every subject executes: RUN_STARTED, one assistant text message streamed as
 * `n - 4` tokens, RUN_FINISHED — `n` events in all, the shape of a streamed LLM reply. Agents,
 * the ceiling server and the history seeders all build their events here, so every subject
 * handles byte-for-byte the same stream.
 */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export const tokenDelta = (i: number): string => `w${i} `;

export function runStarted(threadId: string, runId: string): BaseEvent {
  return { type: EventType.RUN_STARTED, threadId, runId } as BaseEvent;
}

export function textStart(messageId: string): BaseEvent {
  return { type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" } as BaseEvent;
}

/** A token; `timestamp` (the producer's clock) lets a load generator measure latency. */
export function textContent(messageId: string, i: number, timestamp?: number): BaseEvent {
  const e: Record<string, unknown> = {
    type: EventType.TEXT_MESSAGE_CONTENT,
    messageId,
    delta: tokenDelta(i),
  };
  if (timestamp !== undefined) e.timestamp = timestamp;
  return e as unknown as BaseEvent;
}

export function textEnd(messageId: string): BaseEvent {
  return { type: EventType.TEXT_MESSAGE_END, messageId } as BaseEvent;
}

export function runFinished(threadId: string, runId: string): BaseEvent {
  return { type: EventType.RUN_FINISHED, threadId, runId } as BaseEvent;
}

/** The `n` events of one scripted run (n >= 4). */
export function scriptedRun(threadId: string, runId: string, n: number): BaseEvent[] {
  const messageId = `msg-${runId}`;
  const out: BaseEvent[] = [runStarted(threadId, runId), textStart(messageId)];
  for (let i = 0; i < n - 4; i++) out.push(textContent(messageId, i));
  out.push(textEnd(messageId), runFinished(threadId, runId));
  return out;
}

export function userMessage(id: string, text: string): Message {
  return { id, role: "user", content: text } as Message;
}

/** The reply text a scripted run of `n` events produces (for compact history seeding). */
export function replyText(n: number): string {
  let s = "";
  for (let i = 0; i < n - 4; i++) s += tokenDelta(i);
  return s;
}
