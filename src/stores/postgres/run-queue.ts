import { ThreadlineError } from "../../core/errors.js";
import type { ClaimedRun, EnqueueResult } from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunRecord, RunStatus } from "../../core/types.js";
import type { Queryable } from "./connection.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * Run lifecycle operations, each to run inside one transaction. Each first locks the thread's
 * row, so every change to a thread's runs, queue and fence is serialised across all instances:
 * two instances cannot both win a claim or a takeover.
 */
export class RunQueue {
  constructor(
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
  ) {}

  async enqueue(
    db: Queryable,
    run: RunRecord,
    strategy: MultitaskStrategy,
    now: number,
  ): Promise<EnqueueResult> {
    await this.threads.ensure(db, run.threadId, undefined, now);
    const { head, run: existing } = (await this.threads.lock(db, run.threadId, run.runId))!;
    if (existing) {
      throw new ThreadlineError("CONFLICT", `run '${run.runId}' already exists on this thread`);
    }
    const bounds = await this.runs.queueBounds(db, run.threadId);
    const active = head.active_run_id;
    if (strategy === "reject" && (active !== null || bounds.n > 0)) {
      throw new ThreadlineError("THREAD_BUSY", `thread ${run.threadId} already has a run`, {
        details: { activeRunId: active, queued: bounds.n },
      });
    }
    const pos = strategy === "interrupt" ? (bounds.lo ?? 1) - 1 : (bounds.hi ?? 0) + 1;
    const result: EnqueueResult = { run: await this.runs.insert(db, run, pos) };
    if (strategy === "interrupt" && active !== null) {
      await this.runs.requestCancel(db, run.threadId, active);
      result.interrupted = active;
    }
    return result;
  }

  async claimNext(
    db: Queryable,
    threadId: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<ClaimedRun | null> {
    const head = (await this.threads.lock(db, threadId))?.head;
    if (!head || head.active_run_id !== null) return null;
    const lease = { owner, expiresAt: now + leaseMs };
    const run = await this.runs.startHead(db, threadId, lease, head.fence_token, now);
    return run?.lease ? { run, fence: { runId: run.runId, token: run.lease.token } } : null;
  }

  async renew(db: Queryable, threadId: string, fence: Fence, leaseMs: number, now: number) {
    const locked = await this.threads.lock(db, threadId, fence.runId);
    const run = locked?.run;
    if (
      !locked ||
      !run ||
      run.status !== "running" ||
      run.lease_owner === null ||
      run.lease_token !== fence.token ||
      locked.head.active_run_id !== fence.runId ||
      locked.head.fence_token !== fence.token
    ) {
      return { ok: false, cancelRequested: false };
    }
    await this.runs.extendLease(db, threadId, fence.runId, now + leaseMs);
    return { ok: true, cancelRequested: run.cancel_requested };
  }

  async takeOver(
    db: Queryable,
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force: boolean,
  ): Promise<ClaimedRun | null> {
    const locked = await this.threads.lock(db, threadId, runId);
    const run = locked?.run;
    if (!locked || run?.status !== "running" || locked.head.active_run_id !== runId) return null;
    // The caller's clock decides expiry (see the README on clock skew); the fence keeps a
    // wrong guess harmless.
    if (!force && run.lease_expires_at !== null && run.lease_expires_at > now) return null;
    // The new token fences out the previous holder: its appends fail with LEASE_LOST.
    const lease = { owner, expiresAt: now + leaseMs };
    const taken = await this.runs.takeLease(db, threadId, runId, lease, locked.head.fence_token);
    const token = taken.lease!.token;
    await this.threads.setActive(db, threadId, runId, token);
    return { run: taken, fence: { runId, token } };
  }

  async markEnded(
    db: Queryable,
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ): Promise<RunRecord | null> {
    const head = (await this.threads.lock(db, threadId))?.head;
    if (!head) return null;
    const ended = await this.runs.end(db, threadId, runId, status, now, error);
    if (ended && head.active_run_id === runId) {
      await this.threads.setActive(db, threadId, null, head.fence_token);
    }
    return ended;
  }

  async requestCancel(
    db: Queryable,
    threadId: string,
    runId: string,
    now: number,
  ): Promise<RunRecord | null> {
    const run = (await this.threads.lock(db, threadId, runId))?.run;
    if (!run) return null;
    if (run.status === "queued") return this.markEnded(db, threadId, runId, "cancelled", now);
    if (run.status === "running") return this.runs.requestCancel(db, threadId, runId);
    return this.runs.get(db, threadId, runId);
  }
}
