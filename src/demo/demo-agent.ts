import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type Message, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";
import { z } from "zod";
import { ThreadlineError } from "../core/errors.js";
import type { RunInput } from "../core/types.js";

/** Per-run script, read from `forwardedProps.demo`. */
export interface DemoScript {
  /** Number of words to stream, or the exact words. Default: an echo of the last user message. */
  tokens?: number | string[];
  /** Delay between words in ms. Default 30 (0 = as fast as possible). */
  delayMs?: number;
  /** Fail halfway through: true, or the error message to throw. */
  fail?: boolean | string;
  /**
   * End the run with an AG-UI interrupt outcome (PROTOCOL.md §3.1): true asks for an approval
   * (`DEMO_INTERRUPT`), an object sets the interrupt's fields. A run that resumes answers.
   */
  interrupt?: boolean | DemoInterrupt;
}

export interface DemoInterrupt {
  id?: string;
  reason?: string;
  message?: string;
  responseSchema?: Record<string, unknown>;
  expiresAt?: string;
}

/** The interrupt `interrupt: true` raises (its id gets the run id appended). */
export const DEMO_INTERRUPT = {
  id: "approve",
  reason: "confirmation",
  message: "Shall I go on?",
  responseSchema: {
    type: "object",
    properties: { approved: { type: "boolean" } },
    required: ["approved"],
  },
} as const;

/**
 * Hard limits of a demo run: the demo agent is on by default and anyone who may start a run may
 * script it, so a script must not be able to exhaust memory (`tokens: 3e8`) or hold the event
 * loop (`tokens: 1e6, delayMs: 0`). Beyond them the run is refused with 400.
 */
export const DEMO_LIMITS = {
  /** Words per reply (scripted or echoed). */
  maxTokens: 10_000,
  /** Bytes of a reply's text. */
  maxBytes: 256 << 10,
  maxDelayMs: 60_000,
  /** Without a delay, the agent still yields to the event loop after this many words. */
  yieldEvery: 64,
} as const;

const scriptSchema = z
  .strictObject({
    tokens: z
      .union([
        z.number().int().min(0).max(DEMO_LIMITS.maxTokens),
        z.array(z.string()).max(DEMO_LIMITS.maxTokens),
      ])
      .optional(),
    delayMs: z.number().min(0).max(DEMO_LIMITS.maxDelayMs).optional(),
    fail: z.union([z.boolean(), z.string().max(1_000)]).optional(),
    interrupt: z
      .union([
        z.boolean(),
        z.strictObject({
          id: z.string().min(1).max(200).optional(),
          reason: z.string().max(200).optional(),
          message: z.string().max(2_000).optional(),
          responseSchema: z
            .record(z.string(), z.unknown())
            .refine((v) => JSON.stringify(v).length <= 16_384, "at most 16 KiB of JSON")
            .optional(),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
        }),
      ])
      .optional(),
  })
  .refine(
    (s) =>
      !Array.isArray(s.tokens) ||
      s.tokens.reduce((n, w) => n + Buffer.byteLength(w), 0) <= DEMO_LIMITS.maxBytes,
    { message: `the words may hold at most ${DEMO_LIMITS.maxBytes} bytes`, path: ["tokens"] },
  );

/** The run's script; throws 400 VALIDATION_FAILED saying what is beyond the limits. */
export function demoScriptOf(forwardedProps: unknown): DemoScript {
  const raw = (forwardedProps as { demo?: unknown } | null | undefined)?.demo;
  if (raw === undefined) return {};
  const parsed = scriptSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${["forwardedProps", "demo", ...i.path].join(".")}: ${i.message}`,
  );
  throw new ThreadlineError("VALIDATION_FAILED", `invalid demo script: ${problems.join("; ")}`, {
    details: parsed.error.issues.map((i) => ({
      path: ["forwardedProps", "demo", ...i.path],
      message: i.message,
    })),
  });
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
  if (input.resume?.length) {
    const answers = input.resume.map(
      (r) =>
        `${r.interruptId} ${r.status}${r.payload === undefined ? "" : ` ${JSON.stringify(r.payload)}`}`,
    );
    return echo(`You answered: ${answers.join("; ")}`);
  }
  const last = input.messages[input.messages.length - 1];
  if (last?.role === "user") return echo(`You said: ${textOf(last)}`);
  return `Tick ${turn}: the thread is alive.`.split(/(?<= )/);
}

/** The echo of a message, within the limits (a long message is cut, not refused: it is data). */
function echo(text: string): string[] {
  const words = text.slice(0, DEMO_LIMITS.maxBytes).split(/(?<= )/);
  if (words.length <= DEMO_LIMITS.maxTokens) return words;
  return [...words.slice(0, DEMO_LIMITS.maxTokens - 1), "…"];
}

function interruptOutcome(script: true | DemoInterrupt, runId: string) {
  const given = script === true ? {} : script;
  return {
    type: "interrupt",
    interrupts: [
      {
        ...DEMO_INTERRUPT,
        id: `${DEMO_INTERRUPT.id}-${runId}`,
        ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
      },
    ],
  };
}

/**
 * Threadline's built-in deterministic agent (no API keys). It streams a reply word by word and
 * keeps `state.turns` (runs answered) and `state.lastReply`. Scripted per run through
 * `forwardedProps.demo` = `{ tokens, delayMs, fail, interrupt }` so tests and demos can make
 * long, short, failing and interrupting runs.
 */
export class DemoAgent extends AbstractAgent {
  constructor(config: ConstructorParameters<typeof AbstractAgent>[0] = {}) {
    super({ description: "Threadline demo agent: streams a deterministic reply", ...config });
  }

  /** Refuses a script beyond `DEMO_LIMITS` before the run is queued (see `RunInputCheck`). */
  checkRunInput(input: RunInput): void {
    demoScriptOf(input.forwardedProps);
  }

  override run(input: RunAgentInput): Observable<BaseEvent> {
    // Checked again: an agent may also be run without Threadline's coordinator.
    const script = demoScriptOf(input.forwardedProps);
    const state = (input.state ?? {}) as { turns?: number };
    const turn = (typeof state.turns === "number" ? state.turns : 0) + 1;
    const words = wordsFor(input, script, turn);
    const delayMs = Math.max(0, script.delayMs ?? 30);
    const messageId = `msg-${input.runId}`;
    const failAt = script.fail ? Math.floor(words.length / 2) : -1;
    // A resume run answers; only a fresh one asks.
    const interrupt = script.interrupt && !input.resume?.length ? script.interrupt : undefined;

    return new Observable<BaseEvent>((sub) => {
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      let immediate: NodeJS.Immediate | undefined;
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
          ...(interrupt ? { outcome: interruptOutcome(interrupt, input.runId) } : {}),
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
          if (i % DEMO_LIMITS.yieldEvery === 0) {
            // As fast as possible, but never all at once: other runs and requests get a turn.
            immediate = setImmediate(step);
            return;
          }
        }
      };
      if (words.length === 0 && failAt < 0) finish();
      else step();
      return () => {
        cancelled = true;
        clearTimeout(timer);
        if (immediate) clearImmediate(immediate);
      };
    });
  }
}
