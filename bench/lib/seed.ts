import { type BaseEvent, EventType, type Message } from "@ag-ui/core";
import type { ThreadStore } from "../../src/core/store.js";
import type { RunRecord } from "../../src/core/types.js";
import { ViewBuilder } from "../../src/core/view.js";
import { replyText, runFinished, scriptedRun, textEnd, textStart, userMessage } from "./script.js";

export interface SeedOptions {
  /** Prior runs to store. */
  runs: number;
  /** Events of each prior run as it was streamed (the scripted run's size). */
  events: number;
  /**
   * Store each prior run compacted (RUN_STARTED, START, one CONTENT with the whole reply, END,
   * RUN_FINISHED: 5 events, the same messages) instead of every streamed token.
   */
  compact: boolean;
}

/** The events of prior run `r`: a user question and the scripted reply. */
export function priorRun(threadId: string, r: number, opts: SeedOptions): BaseEvent[] {
  const runId = `seed-${r}`;
  const user = userMessage(`u-${threadId}-${r}`, `question ${r}`);
  const started = {
    type: EventType.RUN_STARTED,
    threadId,
    runId,
    input: {
      threadId,
      runId,
      messages: [user],
      state: {},
      tools: [],
      context: [],
      forwardedProps: {},
    },
  } as BaseEvent;
  if (!opts.compact) {
    const [, ...rest] = scriptedRun(threadId, runId, opts.events);
    return [started, ...rest];
  }
  const messageId = `msg-${runId}`;
  return [
    started,
    textStart(messageId),
    { type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: replyText(opts.events) } as BaseEvent,
    textEnd(messageId),
    runFinished(threadId, runId),
  ];
}

/** The messages a thread holds after `runs` prior runs (what a CopilotKit client would send). */
export function priorMessages(threadId: string, opts: SeedOptions): Message[] {
  const out: Message[] = [];
  const reply = replyText(opts.events);
  for (let r = 0; r < opts.runs; r++) {
    out.push(userMessage(`u-${threadId}-${r}`, `question ${r}`));
    out.push({ id: `msg-seed-${r}`, role: "assistant", content: reply } as Message);
  }
  return out;
}

/**
 * Writes a thread's history straight through the ThreadStore API (enqueue, claim, one fenced
 * append per run with its view update), as the coordinator would have left it, without
 * running agents. Works for every backend.
 */
export async function seedThreadline(
  store: ThreadStore,
  threadId: string,
  opts: SeedOptions,
): Promise<void> {
  await store.threads.ensure(threadId);
  const thread = await store.threads.get(threadId);
  const view = new ViewBuilder(thread?.messages ?? [], thread?.state ?? {});
  for (let r = 0; r < opts.runs; r++) {
    const runId = `seed-${r}`;
    const run: RunRecord = {
      runId,
      threadId,
      agentId: "scripted",
      trigger: { kind: "api", source: "bench-seed" },
      status: "queued",
      input: {},
      createdAt: Date.now(),
    };
    await store.runs.enqueue(run, "enqueue");
    const claimed = await store.runs.claimNext(threadId, {
      owner: "bench-seed",
      leaseMs: 60_000,
      now: Date.now(),
    });
    if (claimed?.run.runId !== runId)
      throw new Error(`seeding ${threadId}: could not claim ${runId}`);
    const events = priorRun(threadId, r, opts);
    for (const e of events) view.apply(e);
    await store.threads.append(threadId, claimed.fence, events, view.takeUpdate());
  }
}
