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
    input: { forwardedProps: { demo: { delayMs: 80 } } },
  };
}
