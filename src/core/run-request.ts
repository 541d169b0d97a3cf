import type { AbstractAgent } from "@ag-ui/client";
import type { AgentSource } from "./agent-directory.js";
import { errorText, ThreadlineError } from "./errors.js";
import type { TraceParent } from "./tracing.js";
import type { MultitaskStrategy, RunActor, RunInput, RunRecord, RunTrigger } from "./types.js";

/**
 * An agent (instance) may check a run's input before the run is queued: what it throws refuses
 * the run at once — a ThreadlineError as is (e.g. VALIDATION_FAILED, a 400 for an HTTP caller),
 * anything else as VALIDATION_FAILED — instead of a run that is queued and then fails.
 */
export interface RunInputCheck {
  checkRunInput(input: RunInput): void;
}

/** What every way of starting a run asks for (routes, CopilotKit, the runner, schedules). */
export interface StartRunRequest {
  threadId: string;
  agentId: string;
  input?: RunInput;
  trigger?: RunTrigger;
  multitask?: MultitaskStrategy;
  /** Use this run id (e.g. the one a CopilotKit client chose); must be unique. */
  runId?: string;
  /**
   * Execute this agent instance (used as is, not cloned) instead of the registry's `agentId`,
   * e.g. the per-request agent a CopilotKit runtime prepared. `agentId` then only labels the
   * run. The instance lives in this process: if another process sharing the store claims the
   * run first (it was queued behind that process's run), it runs its own `agentId` instead, and
   * this process lets the instance go at its next lease sweep (as when the run is cancelled or
   * its thread deleted anywhere).
   */
  agent?: AbstractAgent;
  /** The principal that asked for the run (recorded on it, shown by the run list). */
  startedBy?: RunActor;
  /**
   * The trace of the request that asked for it: stored with the run (when valid), so its span is
   * a child of that trace on whichever instance executes it.
   */
  traceparent?: TraceParent;
}

export interface StartRunResult {
  runId: string;
  status: RunRecord["status"];
  threadId: string;
  interrupted?: string;
}

/** What a run request gets once shutdown began: 503, try another instance or later. */
export const shuttingDown = (): ThreadlineError =>
  new ThreadlineError("UNAVAILABLE", "the server is shutting down");

/** Applies the agent's own `checkRunInput` (see `RunInputCheck`), if it has one. */
export function checkInput(agent: AgentSource | undefined, input: RunInput): void {
  const check = (agent as Partial<RunInputCheck> | undefined)?.checkRunInput;
  if (typeof agent === "function" || typeof check !== "function") return;
  try {
    check.call(agent, input);
  } catch (error) {
    if (ThreadlineError.is(error)) throw error;
    throw new ThreadlineError("VALIDATION_FAILED", errorText(error), { cause: error });
  }
}
