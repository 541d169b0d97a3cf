/**
 * Scenario 4 in-process, one subject per call: a thread with a long stored history and a run in
 * progress (a ticker streaming 1,000 stamped tokens/s); then repeatedly attach and time the
 * first *live* event (stamped at or after the attach began). Threadline: `tl.follow` with
 * compact or full replay. CopilotKit: `InMemoryAgentRunner.connect`.
 */
import type { BaseEvent } from "@ag-ui/core";
import type { ReplayMode } from "../../src/protocol.js";
import { createThreadline } from "../../src/threadline.js";
import { ScriptedAgent } from "../lib/agents.js";
import { loadCopilotKit, seedCopilotKit } from "../lib/copilotkit.js";
import { scratchDir } from "../lib/scratch.js";
import { now } from "../lib/script.js";
import { seedThreadline } from "../lib/seed.js";
import { openStore } from "../lib/stores.js";

export interface AttachSample {
  ms: number;
  /** Events delivered before the first live one (the replay, plus the ticker's backlog). */
  before: number;
}

const TICKER = { events: 1_000_000_000, rate: 1000 };
const scratch = scratchDir("attach");

const stamp = (e: BaseEvent) => (e as { timestamp?: number }).timestamp ?? 0;

async function threadline(a: {
  store: string;
  runs: number;
  events: number;
  modes: ReplayMode[];
  reps: number;
}) {
  const store = await openStore(a.store, scratch);
  const tl = createThreadline({ store, agents: { scripted: new ScriptedAgent() } });
  await tl.ready;
  const threadId = "attach";
  try {
    const seedStart = now();
    await seedThreadline(store, threadId, { runs: a.runs, events: a.events, compact: false });
    const seedMs = now() - seedStart;
    const stored = (await store.threads.get(threadId))?.lastSeq ?? 0;
    const { runId } = await tl.startRun({
      threadId,
      agentId: "scripted",
      input: { forwardedProps: { bench: TICKER } },
    });
    // Attach only once the ticker is streaming, so there is a run in progress to re-open.
    const deadline = now() + 10_000;
    while (((await store.threads.get(threadId))?.lastSeq ?? 0) < stored + 3) {
      if (now() > deadline) throw new Error("the ticker run did not start");
      await new Promise((r) => setTimeout(r, 5));
    }
    const out: Record<string, AttachSample[]> = {};
    for (const mode of a.modes) {
      out[mode] = [];
      // One attach more than asked: the first (cold code paths) is dropped.
      for (let rep = 0; rep <= a.reps; rep++) {
        const t0 = now();
        const f = tl.follow(threadId, { replay: mode });
        let before = 0;
        for await (const item of f) {
          if (item.kind === "event" && stamp(item.event) >= t0) break;
          before++;
        }
        if (rep > 0) out[mode]!.push({ ms: now() - t0, before });
        f.close();
      }
    }
    await tl.cancelRun(threadId, runId);
    return { stored, seedMs, samples: out };
  } finally {
    await tl.close({ graceMs: 1000 });
  }
}

async function copilotkit(a: { runs: number; events: number; reps: number; uncapped: boolean }) {
  const ck = await loadCopilotKit();
  const runner = a.uncapped
    ? new ck.InMemoryAgentRunner({ maxRunsPerThread: Number.POSITIVE_INFINITY })
    : new ck.InMemoryAgentRunner();
  const threadId = a.uncapped ? "attach-uncapped" : "attach";
  const seedStart = now();
  seedCopilotKit(ck, threadId, { runs: a.runs, events: a.events, compact: false });
  const seedMs = now() - seedStart;
  const kept = ck.ɵGLOBAL_STORE.peek(threadId)?.historicRuns.length ?? 0;
  // The run in progress gets no history: with the thread's messages, @ag-ui/client's apply step
  // would copy them on every ticker event and the process would be busy with that, not with
  // the attach being measured (Threadline's coordinator avoids that cost; see scenario 1).
  const agent = new ScriptedAgent();
  agent.threadId = threadId;
  agent.messages = [];
  const input = {
    threadId,
    runId: "ticker",
    messages: [],
    state: {},
    tools: [],
    context: [],
    forwardedProps: { bench: TICKER },
  };
  const ticker = runner
    .run({ threadId, agent, input } as never)
    .subscribe({ error: () => undefined });
  const samples: AttachSample[] = [];
  try {
    // Let the ticker start so the connect has a run in progress to bridge.
    await new Promise((r) => setTimeout(r, 20));
    for (let rep = 0; rep <= a.reps; rep++) {
      const sample = await new Promise<AttachSample>((resolve, reject) => {
        const t0 = now();
        let before = 0;
        let done = false;
        const timer = setTimeout(() => reject(new Error("no live event within 30 s")), 30_000);
        const sub = runner.connect({ threadId }).subscribe({
          next: (e) => {
            if (done) return;
            if (stamp(e as BaseEvent) >= t0) {
              done = true;
              clearTimeout(timer);
              resolve({ ms: now() - t0, before });
              queueMicrotask(() => sub.unsubscribe());
            } else before++;
          },
          complete: () => {
            if (!done) reject(new Error("connect completed without a live event"));
          },
        });
      });
      if (rep > 0) samples.push(sample);
    }
  } finally {
    await runner.stop({ threadId });
    ticker.unsubscribe();
  }
  return { stored: kept, seedMs, samples: { connect: samples } };
}

/** Scenario 4 commands of the worker process (see worker.ts). */
export const attachCommands = {
  attachThreadline: threadline,
  attachCopilotKit: copilotkit,
};
