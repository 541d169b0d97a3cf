import { type BaseEvent, EventType, type Message } from "@ag-ui/core";

type Loose = BaseEvent & {
  messageId?: string;
  parentMessageId?: string;
  toolCallId?: string;
  messages?: Message[];
  input?: { messages?: Message[] };
};

/**
 * Ids of the messages an event shows the thread has (the ones a run must not send again).
 * Only a shortcut: the server adds a run's messages by id, so an id missed here costs bytes,
 * never a duplicate.
 */
export function messageIdsIn(event: BaseEvent): string[] {
  const e = event as Loose;
  switch (e.type) {
    case EventType.MESSAGES_SNAPSHOT:
      return (e.messages ?? []).map((m) => m.id);
    case EventType.RUN_STARTED:
      return (e.input?.messages ?? []).map((m) => m.id);
    case EventType.TEXT_MESSAGE_START:
    case EventType.TEXT_MESSAGE_CHUNK:
    case EventType.TOOL_CALL_RESULT:
    case EventType.REASONING_MESSAGE_START:
    case EventType.ACTIVITY_SNAPSHOT:
      return e.messageId ? [e.messageId] : [];
    case EventType.TOOL_CALL_START:
      // The apply step files a tool call under its parent message, or one keyed by its id.
      return [e.parentMessageId, e.toolCallId].filter((id): id is string => Boolean(id));
    default:
      return [];
  }
}

/**
 * The messages of a fold (`next`), with the ones the thread has not seen yet — a message this
 * client added while a run streamed — moved after the thread's own, and local ones the fold
 * never knew (added after it began) kept instead of dropped.
 */
export function keepUnsentLast(
  next: Message[],
  current: readonly Message[],
  seen: ReadonlySet<string>,
): Message[] {
  const out = next.filter((m) => seen.has(m.id));
  const ids = new Set(out.map((m) => m.id));
  for (const m of [...next, ...current]) {
    if (!ids.has(m.id)) {
      ids.add(m.id);
      out.push(m);
    }
  }
  return out;
}
