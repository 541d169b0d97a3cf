import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type Message, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";

/** Per-run script, read from `forwardedProps.demo`. */
export interface DemoScript {
  /** Number of words to stream, or the exact words. Default: an echo of the last user message. */
  tokens?: number | string[];
  /** Delay between words in ms. Default 30 (0 = as fast as possible). */
  delayMs?: number;
  /** Fail halfway through: true, or the error message to throw. */
  fail?: boolean | string;
}

function textOf(message: Message | undefined): string {
  if (!message) return "";
  const c = (message as { content?: unknown }).content;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    return c
      .map((p) =>
        p && typeof p === "object" && "text" in p ? String((p as { text: unknown }).text) : "",
      )
      .join(" ");
  }
  return "";
}

function wordsFor(input: RunAgentInput, script: DemoScript, turn: number): string[] {
  if (Array.isArray(script.tokens)) return script.tokens.map(String);
  if (typeof script.tokens === "number") {
    return Array.from({ length: Math.max(0, Math.floor(script.tokens)) }, (_, i) => `w${i + 1}`);
  }
  const last = input.messages[input.messages.length - 1];
  if (last?.role === "user") return `You said: ${textOf(last)}`.split(/(?<= )/);
  return `Tick ${turn}: the thread is alive.`.split(/(?<= )/);
}

/**
 * Threadline's built-in deterministic agent (no API keys). It streams a reply word by word and
 * keeps `state.turns` (runs answered) and `state.lastReply`. Scripted per run through
 * `forwardedProps.demo` = `{ tokens, delayMs, fail }` so tests and demos can make long, short
 * and failing runs.
 */
export class DemoAgent extends AbstractAgent {
  constructor(config: ConstructorParameters<typeof AbstractAgent>[0] = {}) {
    super({ description: "Threadline demo agent: streams a deterministic reply", ...config });
  }

  override run(input: RunAgentInput): Observable<BaseEvent> {
    const script = ((input.forwardedProps as { demo?: DemoScript } | undefined)?.demo ??
      {}) as DemoScript;
    const state = (input.state ?? {}) as { turns?: number };
    const turn = (typeof state.turns === "number" ? state.turns : 0) + 1;
    const words = wordsFor(input, script, turn);
    const delayMs = Math.max(0, script.delayMs ?? 30);
    const messageId = `msg-${input.runId}`;
    const failAt = script.fail ? Math.floor(words.length / 2) : -1;

    return new Observable<BaseEvent>((sub) => {
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      let cancelled = false;
      const emit = (e: BaseEvent) => sub.next(e);
      emit({
        type: EventType.RUN_STARTED,
        threadId: input.threadId,
        runId: input.runId,
      } as BaseEvent);
      emit({ type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" } as BaseEvent);
      const finish = () => {
        emit({ type: EventType.TEXT_MESSAGE_END, messageId } as BaseEvent);
        emit({
          type: EventType.STATE_SNAPSHOT,
          snapshot: { ...(input.state as object), turns: turn, lastReply: words.join("") },
        } as BaseEvent);
        emit({
          type: EventType.RUN_FINISHED,
          threadId: input.threadId,
          runId: input.runId,
        } as BaseEvent);
        sub.complete();
      };
      const step = () => {
        while (!cancelled) {
          if (i === failAt) {
            sub.error(
              new Error(
                typeof script.fail === "string" ? script.fail : "demo agent failed (scripted)",
              ),
            );
            return;
          }
          if (i >= words.length) {
            finish();
            return;
          }
          emit({
            type: EventType.TEXT_MESSAGE_CONTENT,
            messageId,
            delta: words[i] ?? "",
          } as BaseEvent);
          i += 1;
          if (delayMs > 0) {
            timer = setTimeout(step, delayMs);
            return;
          }
        }
      };
      if (words.length === 0 && failAt < 0) finish();
      else step();
      return () => {
        cancelled = true;
        clearTimeout(timer);
      };
    });
  }
}
