import { type BaseEvent, EventType } from "@ag-ui/core";
import { RUN_ERROR_INCOMPLETE_STREAM } from "../protocol.js";

type Owner = string | undefined;
type Kind =
  | "text"
  | "tool"
  | "reasoningMessage"
  | "reasoning"
  | "thinkingText"
  | "thinking"
  | "step"
  | "subagent";

interface Open {
  kind: Kind;
  key: string;
  start: BaseEvent;
  owner: Owner;
}

const fieldOf = (e: BaseEvent, name: string): string | undefined => {
  const v = (e as unknown as Record<string, unknown>)[name];
  return typeof v === "string" ? v : undefined;
};

/** Event type → [construct kind, id field] for events that open / close a construct. */
const OPENERS: Partial<Record<string, [Kind, string | undefined]>> = {
  [EventType.TEXT_MESSAGE_START]: ["text", "messageId"],
  [EventType.TOOL_CALL_START]: ["tool", "toolCallId"],
  [EventType.REASONING_MESSAGE_START]: ["reasoningMessage", "messageId"],
  [EventType.REASONING_START]: ["reasoning", "messageId"],
  [EventType.THINKING_TEXT_MESSAGE_START]: ["thinkingText", undefined],
  [EventType.THINKING_START]: ["thinking", undefined],
  [EventType.STEP_STARTED]: ["step", "stepName"],
};
const CLOSERS: Partial<Record<string, [Kind, string | undefined]>> = {
  [EventType.TEXT_MESSAGE_END]: ["text", "messageId"],
  [EventType.TOOL_CALL_END]: ["tool", "toolCallId"],
  [EventType.REASONING_MESSAGE_END]: ["reasoningMessage", "messageId"],
  [EventType.REASONING_END]: ["reasoning", "messageId"],
  [EventType.THINKING_TEXT_MESSAGE_END]: ["thinkingText", undefined],
  [EventType.THINKING_END]: ["thinking", undefined],
  [EventType.STEP_FINISHED]: ["step", "stepName"],
};

/** Order in which open constructs are closed: innermost first, as the verifier expects. */
const CLOSE_ORDER: Kind[] = [
  "tool",
  "text",
  "reasoningMessage",
  "reasoning",
  "thinkingText",
  "thinking",
  "step",
  "subagent",
];

/**
 * How a run ends that did not end by itself, for its closing events:
 * - `finished`: the agent's own RUN_FINISHED (tool calls it left without a result are the
 *   client's to answer: frontend tools);
 * - `stopped`: cancelled (stop, cancel, `interrupt`);
 * - `error`: failed, interrupted, or the agent's stream ended without a terminal event.
 */
export type RunEnding =
  | { kind: "finished" }
  | { kind: "stopped" }
  | { kind: "error"; code: string; message: string };

/**
 * The content of the TOOL_CALL_RESULT written for a tool call a run left unanswered, as
 * CopilotKit's `finalizeRunEvents` writes it: a thread must never keep an assistant tool call
 * without its tool message (the next run sends the history to a model; OpenAI-style APIs
 * reject it).
 */
export function unansweredToolResult(ending: RunEnding): Record<string, string> {
  if (ending.kind === "stopped") {
    return {
      status: "stopped",
      reason: "stop_requested",
      message: "The run was stopped before this tool call had a result.",
    };
  }
  const e = ending as { code: string; message: string };
  return {
    status: "error",
    reason: e.code === RUN_ERROR_INCOMPLETE_STREAM ? "missing_terminal_event" : "run_error",
    code: e.code,
    message: e.message,
  };
}

interface ToolCall {
  owner: Owner;
  answered: boolean;
}

/**
 * Tracks what a run has opened and not yet closed (text messages, tool calls, reasoning, steps,
 * subagents), and its tool calls without a result, so that (a) a run that fails or is cancelled
 * can be closed validly — AG-UI's verifier rejects RUN_FINISHED while anything is open — and
 * every tool call it made has a tool message, and (b) a stream that starts mid-run can re-open
 * what is open with START events.
 */
export class RunTracker {
  private open = new Map<string, Open>();
  private toolCalls = new Map<string, ToolCall>();
  runStarted: BaseEvent | undefined;
  terminal: BaseEvent | undefined;

  apply(event: BaseEvent): void {
    switch (event.type) {
      case EventType.RUN_STARTED:
        this.runStarted = event;
        this.terminal = undefined;
        this.open.clear();
        this.toolCalls.clear();
        return;
      case EventType.RUN_FINISHED:
      case EventType.RUN_ERROR:
        this.terminal = event;
        this.open.clear();
        this.toolCalls.clear();
        return;
      case EventType.TOOL_CALL_START: {
        const id = fieldOf(event, "toolCallId");
        if (id !== undefined && !this.toolCalls.has(id)) {
          this.toolCalls.set(id, { owner: fieldOf(event, "subagentRunId"), answered: false });
        }
        break;
      }
      case EventType.TOOL_CALL_RESULT: {
        const call = this.toolCalls.get(fieldOf(event, "toolCallId") ?? "");
        if (call) call.answered = true;
        return;
      }
      case EventType.SUBAGENT_STARTED: {
        // A subagent's own lane is keyed by its id, not by an owner tag.
        const id = fieldOf(event, "subagentRunId") ?? "";
        this.open.set(`subagent::${id}`, {
          kind: "subagent",
          key: id,
          start: event,
          owner: fieldOf(event, "parentSubagentRunId"),
        });
        return;
      }
      case EventType.SUBAGENT_FINISHED:
      case EventType.SUBAGENT_ERROR:
        this.open.delete(`subagent::${fieldOf(event, "subagentRunId") ?? ""}`);
        return;
    }
    const owner = fieldOf(event, "subagentRunId");
    const opener = OPENERS[event.type];
    if (opener) {
      const id = opener[1] ? fieldOf(event, opener[1]) : undefined;
      this.open.set(`${opener[0]}:${owner ?? ""}:${id ?? ""}`, {
        kind: opener[0],
        key: id ?? "",
        start: event,
        owner,
      });
      return;
    }
    const closer = CLOSERS[event.type];
    if (closer) {
      const id = closer[1] ? fieldOf(event, closer[1]) : undefined;
      this.open.delete(`${closer[0]}:${owner ?? ""}:${id ?? ""}`);
    }
  }

  get isOpen(): boolean {
    return this.runStarted !== undefined && this.terminal === undefined;
  }

  /** START events that re-open everything currently open, in the order they were opened. */
  reopenEvents(): BaseEvent[] {
    return [...this.open.values()].map((o) => o.start);
  }

  /**
   * The events that close the run before its terminal event: END events for everything open,
   * innermost first, and (unless the agent finished it) a TOOL_CALL_RESULT for each tool call of
   * the run without one — after the messages are closed, before steps and subagents are.
   */
  closingEvents(ending: RunEnding): BaseEvent[] {
    const out: BaseEvent[] = [];
    const opens = [...this.open.values()].reverse();
    for (const kind of CLOSE_ORDER) {
      if (kind === "step" && ending.kind !== "finished") out.push(...this.toolResults(ending));
      for (const o of opens) {
        if (o.kind !== kind) continue;
        const tag = o.owner === undefined ? {} : { subagentRunId: o.owner };
        switch (kind) {
          case "tool":
            out.push({ type: EventType.TOOL_CALL_END, toolCallId: o.key, ...tag } as BaseEvent);
            break;
          case "text":
            out.push({ type: EventType.TEXT_MESSAGE_END, messageId: o.key, ...tag } as BaseEvent);
            break;
          case "reasoningMessage":
            out.push({
              type: EventType.REASONING_MESSAGE_END,
              messageId: o.key,
              ...tag,
            } as BaseEvent);
            break;
          case "reasoning":
            out.push({ type: EventType.REASONING_END, messageId: o.key, ...tag } as BaseEvent);
            break;
          case "thinkingText":
            out.push({ type: EventType.THINKING_TEXT_MESSAGE_END } as BaseEvent);
            break;
          case "thinking":
            out.push({ type: EventType.THINKING_END } as BaseEvent);
            break;
          case "step":
            out.push({ type: EventType.STEP_FINISHED, stepName: o.key, ...tag } as BaseEvent);
            break;
          case "subagent":
            out.push({
              type: EventType.SUBAGENT_ERROR,
              subagentRunId: o.key,
              message: "closed by Threadline: the parent run ended",
            } as BaseEvent);
            break;
        }
      }
    }
    return out;
  }

  private toolResults(ending: RunEnding): BaseEvent[] {
    const content = JSON.stringify(unansweredToolResult(ending));
    const out: BaseEvent[] = [];
    for (const [toolCallId, call] of this.toolCalls) {
      if (call.answered) continue;
      out.push({
        type: EventType.TOOL_CALL_RESULT,
        toolCallId,
        messageId: `${toolCallId}-result`,
        role: "tool",
        content,
        ...(call.owner === undefined ? {} : { subagentRunId: call.owner }),
      } as BaseEvent);
    }
    return out;
  }
}

export const isTerminalEvent = (e: BaseEvent): boolean =>
  e.type === EventType.RUN_FINISHED || e.type === EventType.RUN_ERROR;
