import type { AbstractAgent } from "@ag-ui/client";
import { ThreadlineError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { ThreadStore } from "./store.js";

/** A run's key in per-run maps: its thread and its id. */
export const runKey = (run: { threadId: string; runId: string }): string =>
  `${run.threadId}\u0000${run.runId}`;

interface SuppliedAgent {
  threadId: string;
  runId: string;
  agent: AbstractAgent;
  /** The enqueue committed: until then the store does not know the run (not a release). */
  enqueued: boolean;
}

/**
 * Agent instances callers supplied (`StartRunRequest.agent`) for runs this process has not
 * executed. One is taken out when this process executes its run, and let go when the run ends
 * or starts anywhere else (`release`, from the lease sweep), so an instance never outlives its
 * run here.
 */
export class SuppliedAgents {
  private readonly held = new Map<string, SuppliedAgent>();

  get size(): number {
    return this.held.size;
  }

  /** Holds `agent` for a run about to be enqueued; CONFLICT when its id waits here already. */
  hold(run: { threadId: string; runId: string }, agent: AbstractAgent): void {
    const key = runKey(run);
    // A run id taken by a run still waiting here: refuse before touching its agent.
    if (this.held.has(key)) {
      throw new ThreadlineError("CONFLICT", `run '${run.runId}' already exists on this thread`);
    }
    this.held.set(key, { threadId: run.threadId, runId: run.runId, agent, enqueued: false });
  }

  /** The run's enqueue committed: from now on the store decides whether it still waits. */
  enqueued(run: { threadId: string; runId: string }): void {
    const supplied = this.held.get(runKey(run));
    if (supplied) supplied.enqueued = true;
  }

  /** The run will never execute here (its enqueue failed, it was cancelled while queued). */
  drop(run: { threadId: string; runId: string }): void {
    this.held.delete(runKey(run));
  }

  /** The run's instance, taken out (this process executes the run now). */
  take(run: { threadId: string; runId: string }): AbstractAgent | undefined {
    const key = runKey(run);
    const supplied = this.held.get(key);
    this.held.delete(key);
    return supplied?.agent;
  }

  /**
   * Drops the instances of runs this process will never execute: the run ended (a cancel while
   * queued, from any process), it is gone (its thread deleted), or another process holds it (it
   * claimed the run, or took it over). A run this process claimed is out of the map already
   * (the executor takes its agent before its first await).
   */
  async release(store: ThreadStore, instanceId: string, logger: Logger): Promise<void> {
    for (const [key, { threadId, runId, enqueued }] of [...this.held]) {
      if (!enqueued) continue;
      try {
        const run = await store.runs.get(threadId, runId);
        if (run?.status === "queued") continue;
        if (run?.status === "running" && run.lease?.owner === instanceId) continue;
        this.held.delete(key);
      } catch (error) {
        logger.debug({ err: error, threadId, runId }, "could not check a supplied agent's run");
      }
    }
  }

  /** The thread was deleted here: its runs never execute. */
  forgetThread(threadId: string): void {
    for (const [key, s] of this.held) if (s.threadId === threadId) this.held.delete(key);
  }

  clear(): void {
    this.held.clear();
  }
}
