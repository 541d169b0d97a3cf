import { decideEnqueue, leaseRenewable, takeOverAllowed } from "../../core/run-rules.js";
import type * as Store from "../../core/store.js";
import { listWindow } from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunActor, RunRecord } from "../../core/types.js";
import type { Db } from "./db.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * The SQLite `RunQueue`. Every change is one IMMEDIATE transaction: the check and the change
 * happen under SQLite's write lock, so two processes cannot both win a claim.
 */
export class SqliteRunQueue implements Store.RunQueue {
  constructor(
    private readonly db: Db,
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
  ) {}

  async enqueue(
    run: RunRecord,
    strategy: MultitaskStrategy,
    opts?: Store.EnqueueOptions,
  ): Promise<Store.EnqueueResult> {
    return this.db.write(() => {
      this.threads.ensure(run.threadId, undefined, Date.now());
      const thread = this.threads.head(run.threadId)!;
      const decision = decideEnqueue(
        {
          runExists: this.runs.brief(run.threadId, run.runId) !== undefined,
          activeRunId: thread.active_run_id,
          queued: this.runs.queued(run.threadId),
          // Read only for an enqueue that carries the interrupts it was checked against.
          ...(opts?.interrupts
            ? { pendingInterrupts: this.threads.pendingInterruptIds(run.threadId) }
            : {}),
        },
        run,
        strategy,
        opts,
      );
      this.runs.insert(run, decision.position === "head");
      const result: Store.EnqueueResult = { run: this.runs.get(run.threadId, run.runId)! };
      if (decision.interrupt !== null) {
        this.runs.requestCancel(run.threadId, decision.interrupt);
        result.interrupted = decision.interrupt;
      }
      return result;
    });
  }

  async claimNext(threadId: string, lease: Store.LeaseRequest): Promise<Store.ClaimedRun | null> {
    return this.db.write(() => {
      const thread = this.threads.head(threadId);
      if (!thread || thread.active_run_id !== null) return null;
      const runId = this.runs.head(threadId);
      if (runId === undefined) return null;
      const token = this.threads.issueToken(thread.fence_token);
      const expiresAt = lease.now + lease.leaseMs;
      this.runs.start(threadId, runId, { owner: lease.owner, token, expiresAt }, lease.now);
      this.threads.setActive(threadId, runId, token);
      return { run: this.runs.get(threadId, runId)!, fence: { runId, token } };
    });
  }

  async renew(threadId: string, fence: Fence, term: Store.LeaseTerm) {
    return this.db.write(() => {
      const thread = this.threads.head(threadId);
      const run = thread ? this.runs.brief(threadId, fence.runId) : undefined;
      const state = {
        activeRunId: thread?.active_run_id,
        fenceToken: thread?.fence_token,
        runStatus: run?.status,
        leaseToken: run?.lease_token,
      };
      if (!run || run.lease_owner === null || !leaseRenewable(state, fence)) {
        return { ok: false, cancelRequested: false };
      }
      const lease = {
        owner: run.lease_owner,
        token: fence.token,
        expiresAt: term.now + term.leaseMs,
      };
      this.runs.setLease(threadId, fence.runId, lease);
      return { ok: true, cancelRequested: run.cancel_requested === 1 };
    });
  }

  async takeOver(
    threadId: string,
    runId: string,
    lease: Store.LeaseRequest & { force?: boolean },
  ): Promise<Store.ClaimedRun | null> {
    return this.db.write(() => {
      const thread = this.threads.head(threadId);
      const run = thread ? this.runs.brief(threadId, runId) : undefined;
      const state = {
        activeRunId: thread?.active_run_id,
        runStatus: run?.status,
        leaseExpiresAt: run?.lease_expires_at,
      };
      if (!thread || !takeOverAllowed(state, runId, lease)) return null;
      // The new token fences out the previous holder: its appends fail with LEASE_LOST.
      const token = this.threads.issueToken(thread.fence_token);
      const expiresAt = lease.now + lease.leaseMs;
      this.runs.setLease(threadId, runId, { owner: lease.owner, token, expiresAt });
      this.threads.setActive(threadId, runId, token);
      return { run: this.runs.get(threadId, runId)!, fence: { runId, token } };
    });
  }

  async markEnded(threadId: string, runId: string, end: Store.RunOutcome) {
    return this.db.write(() => this.end(threadId, runId, end));
  }

  async requestCancel(threadId: string, runId: string, by?: RunActor) {
    return this.db.write(() => {
      const run = this.runs.brief(threadId, runId);
      if (!run) return null;
      if (by) this.runs.setCancelledBy(threadId, runId, by);
      if (run.status === "queued") {
        return this.end(threadId, runId, { status: "cancelled", now: Date.now() });
      }
      if (run.status === "running") this.runs.requestCancel(threadId, runId);
      return this.runs.get(threadId, runId);
    });
  }

  async get(threadId: string, runId: string) {
    return this.runs.get(threadId, runId);
  }

  async list(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    const { limit, offset } = listWindow(opts);
    return this.runs.list(threadId, limit, offset);
  }

  async nthNewestStartSeq(threadId: string, n: number) {
    return this.runs.nthNewestStartSeq(threadId, n);
  }

  async listStale(now: number, opts: { all?: boolean } = {}) {
    return this.runs.stale(now, opts.all === true);
  }

  async idleThreadsWithQueue() {
    return this.runs.idleThreadsWithQueue();
  }

  private end(threadId: string, runId: string, end: Store.RunOutcome): RunRecord | null {
    const thread = this.threads.head(threadId);
    if (!thread || !this.runs.brief(threadId, runId)) return null;
    this.runs.end(threadId, runId, end.status, end.now, end.error);
    if (thread.active_run_id === runId) this.threads.setActive(threadId, null, thread.fence_token);
    return this.runs.get(threadId, runId);
  }
}
