import { randomUUID } from "node:crypto";
import { scriptedRun, userMessage } from "../lib/script.js";

/**
 * What one scenario-1 run puts in a store, as the JSON text Threadline stores (checked against
 * rows it wrote: the RUN_STARTED carries the run's input and provenance, the view gets the user
 * message and the assistant reply). Built before the clock starts: a ceiling does not pay for
 * encoding.
 */
export interface CeilingRun {
  threadId: string;
  runId: string;
  agentId: string;
  triggerJson: string;
  inputJson: string;
  /** The run's events, JSON text, in seq order. */
  events: string[];
  /** The view update of the run's one append: the user message and the assistant reply. */
  messages: { id: string; json: string }[];
}

export function ceilingRun(threadId: string, runNo: number, n: number): CeilingRun {
  const runId = randomUUID();
  const question = userMessage(`q-${threadId}-${runNo}`, `question ${runNo}`);
  const forwardedProps = { bench: { events: n } };
  const trigger = { kind: "api" };
  const agentId = "scripted";
  const events = scriptedRun(threadId, runId, n).map((e, i) =>
    i === 0
      ? {
          ...e,
          input: {
            threadId,
            runId,
            messages: [question],
            state: {},
            tools: [],
            context: [],
            forwardedProps,
          },
          metadata: { threadline: { trigger, agentId } },
        }
      : e,
  );
  let content = "";
  for (const e of events) {
    const delta = (e as { delta?: string }).delta;
    if (delta !== undefined) content += delta;
  }
  const reply = { id: `msg-${runId}`, role: "assistant", content };
  return {
    threadId,
    runId,
    agentId,
    triggerJson: JSON.stringify(trigger),
    inputJson: JSON.stringify({ messages: [question], forwardedProps }),
    events: events.map((e) => JSON.stringify(e)),
    messages: [question, reply].map((m) => ({ id: m.id, json: JSON.stringify(m) })),
  };
}

/** Where a ceiling's time goes, per step of a run (ms summed over the measured runs). */
export class Phases {
  readonly ms: Record<string, number> = {};

  /** Times a synchronous step. */
  sync<T>(name: string, fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.ms[name] = (this.ms[name] ?? 0) + performance.now() - t;
    }
  }

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[name] = (this.ms[name] ?? 0) + performance.now() - t;
    }
  }
}

/** A bare-driver replica of what Threadline's store does for one scenario-1 run. */
export interface AppendCeiling {
  /** Every store operation of one run, in Threadline's order (see each replica). */
  runOne(run: CeilingRun, phases: Phases): Promise<void>;
  /** Events the thread holds (checked after the clock stops). */
  eventCount(threadId: string): Promise<number>;
  close(): Promise<void>;
}

/** The lease a claim writes (Threadline's default lease is 15 s). */
export const LEASE_MS = 15_000;
export const OWNER = `bench:${process.pid}:ceiling`;
