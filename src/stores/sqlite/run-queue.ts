import { ThreadlineError } from "../../core/errors.js";
import type { ClaimedRun, EnqueueResult } from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunRecord, RunStatus } from "../../core/types.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * Run lifecycle operations, each to run inside one IMMEDIATE transaction: the check and the
 * change happen under SQLite's write lock, so two processes cannot both win a claim.
 */
export class RunQueue {
  constructor(
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
  ) {}

  enqueue(run: RunRecord, strategy: MultitaskStrategy, now: number): EnqueueResult {
    this.threads.ensure(run.threadId, undefined, now);
    const thread = this.threads.head(run.threadId)!;
    if (this.runs.brief(run.threadId, run.runId)) {
      throw new ThreadlineError("CONFLICT", `run '${run.runId}' already exists on this thread`);
    }
    const queued = this.runs.queued(run.threadId);
    if (strategy === "reject" && (thread.active_run_id !== null || queued > 0)) {
      throw new ThreadlineError("THREAD_BUSY", `thread ${run.threadId} already has a run`, {
        details: { activeRunId: thread.active_run_id, queued },
      });
    }
    this.runs.insert(run, strategy === "interrupt");
    const result: EnqueueResult = { run: this.runs.get(run.threadId, run.runId)! };
    if (strategy === "interrupt" && thread.active_run_id !== null) {
      this.runs.requestCancel(run.threadId, thread.active_run_id);
      result.interrupted = thread.active_run_id;
    }
    return result;
  }

  claimNext(threadId: string, owner: string, leaseMs: number, now: number): ClaimedRun | null {
    const thread = this.threads.head(threadId);
    if (!thread || thread.active_run_id !== null) return null;
    const runId = this.runs.head(threadId);
    if (runId === undefined) return null;
    const token = this.threads.issueToken(thread.fence_token);
    this.runs.start(threadId, runId, { owner, token, expiresAt: now + leaseMs }, now);
    this.threads.setActive(threadId, runId, token);
    return { run: this.runs.get(threadId, runId)!, fence: { runId, token } };
  }

  renew(threadId: string, fence: Fence, leaseMs: number, now: number) {
    const thread = this.threads.head(threadId);
    const run = thread ? this.runs.brief(threadId, fence.runId) : undefined;
    if (
      !thread ||
      !run ||
      run.status !== "running" ||
      run.lease_owner === null ||
      run.lease_token !== fence.token ||
      thread.active_run_id !== fence.runId ||
      thread.fence_token !== fence.token
    ) {
      return { ok: false, cancelRequested: false };
    }
    const lease = { owner: run.lease_owner, token: fence.token, expiresAt: now + leaseMs };
    this.runs.setLease(threadId, fence.runId, lease);
    return { ok: true, cancelRequested: run.cancel_requested === 1 };
  }

  takeOver(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force: boolean,
  ): ClaimedRun | null {
    const thread = this.threads.head(threadId);
    const run = thread ? this.runs.brief(threadId, runId) : undefined;
    if (!thread || !run || run.status !== "running" || thread.active_run_id !== runId) {
      return null;
    }
    if (!force && run.lease_expires_at !== null && run.lease_expires_at > now) return null;
    // The new token fences out the previous holder: its appends fail with LEASE_LOST.
    const token = this.threads.issueToken(thread.fence_token);
    this.runs.setLease(threadId, runId, { owner, token, expiresAt: now + leaseMs });
    this.threads.setActive(threadId, runId, token);
    return { run: this.runs.get(threadId, runId)!, fence: { runId, token } };
  }

  markEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ): RunRecord | null {
    const thread = this.threads.head(threadId);
    if (!thread || !this.runs.brief(threadId, runId)) return null;
    this.runs.end(threadId, runId, status, now, error);
    if (thread.active_run_id === runId) this.threads.setActive(threadId, null, thread.fence_token);
    return this.runs.get(threadId, runId);
  }

  requestCancel(threadId: string, runId: string, now: number): RunRecord | null {
    const run = this.runs.brief(threadId, runId);
    if (!run) return null;
    if (run.status === "queued") return this.markEnded(threadId, runId, "cancelled", now);
    if (run.status === "running") this.runs.requestCancel(threadId, runId);
    return this.runs.get(threadId, runId);
  }
}
