import { compactEvents } from "@ag-ui/client";
import type { BaseEvent, Message } from "@ag-ui/core";
import type { InMemoryAgentRunner } from "@copilotkit/runtime/v2";
import { lastValueFrom, type Observable, tap } from "rxjs";
import { ScriptedAgent } from "./agents.js";
import { priorMessages, priorRun, type SeedOptions } from "./seed.js";

/** CopilotKit's runtime module, loaded only by the processes that measure it (it is slow to load). */
export type CopilotKitV2 = typeof import("@copilotkit/runtime/v2");

let loaded: Promise<CopilotKitV2> | undefined;

export function loadCopilotKit(): Promise<CopilotKitV2> {
  loaded ??= import("@copilotkit/runtime/v2");
  return loaded;
}

/**
 * Seeds CopilotKit's process-global in-memory store the way its runner fills it: each run's
 * events compacted (`compactEvents`, as `InMemoryAgentRunner.run` does on finalize), the
 * thread's message snapshot from the last run. The store's own limits apply (by default it
 * keeps the last 100 runs of a thread).
 */
export function seedCopilotKit(ck: CopilotKitV2, threadId: string, opts: SeedOptions): Message[] {
  const store = ck.ɵGLOBAL_STORE;
  store.getOrCreate(threadId);
  const messages = priorMessages(threadId, opts);
  let parentRunId: string | null = null;
  for (let r = 0; r < opts.runs; r++) {
    const runId = `seed-${r}`;
    store.appendRun(threadId, {
      threadId,
      runId,
      agentId: "scripted",
      parentRunId,
      events: compactEvents(priorRun(threadId, r, opts)),
      // Only the last run's snapshot is kept by the store; passing it once keeps seeding O(n).
      messages: r === opts.runs - 1 ? messages : [],
      createdAt: Date.now(),
    });
    parentRunId = runId;
  }
  return messages;
}

/**
 * One run through CopilotKit's runner the way its runtime's run handler drives it: a fresh
 * agent holding the client's messages (all of the thread's, plus the new one), then
 * `runner.run(...)`. Resolves when the run's observable completes.
 */
export async function runThroughCopilotKit(
  runner: InMemoryAgentRunner,
  threadId: string,
  runId: string,
  messages: Message[],
  forwardedProps: unknown,
): Promise<number> {
  const agent = new ScriptedAgent();
  agent.threadId = threadId;
  agent.messages = messages;
  const input = { threadId, runId, messages, state: {}, tools: [], context: [], forwardedProps };
  const events = runner.run({ threadId, agent, input } as never) as Observable<BaseEvent>;
  let n = 0;
  await lastValueFrom(events.pipe(tap(() => n++)), { defaultValue: undefined });
  return n;
}
