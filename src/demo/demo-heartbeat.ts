import type { ScheduleInput } from "../core/scheduler/index.js";

export const DEMO_HEARTBEAT_ID = "demo-heartbeat";

export interface DemoHeartbeatOptions {
  /** Default `demo`. */
  threadId?: string;
  /** Default 30 s. */
  everyMs?: number;
  agentId?: string;
}

/**
 * The heartbeat `npm start` ships so that a newcomer who follows the demo thread sees it evolve
 * by itself: every `everyMs` the demo agent answers "Tick N: the thread is alive." Turn it off by
 * leaving it out of `schedules` (the CLI decides how: a flag or an env variable).
 */
export function demoHeartbeat(opts: DemoHeartbeatOptions = {}): ScheduleInput {
  return {
    id: DEMO_HEARTBEAT_ID,
    agentId: opts.agentId ?? "demo",
    threadId: opts.threadId ?? "demo",
    everyMs: opts.everyMs ?? 30_000,
    // No prompt: the demo agent's reply to a turn without a user message is its tick line.
    // Each tick sees the last 20 messages only, and the thread keeps its last 1,000 runs: it
    // fires 2,880 times a day and must not fill the disk or grow its prompt.
    input: { forwardedProps: { demo: { delayMs: 80 } }, history: { lastMessages: 20 } },
    retention: { keepRuns: 1_000 },
  };
}
