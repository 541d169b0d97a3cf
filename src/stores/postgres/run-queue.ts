import type pg from "pg";
import { decideEnqueue, leaseRenewable, takeOverAllowed } from "../../core/run-rules.js";
import type * as Store from "../../core/store.js";
import { listWindow } from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunActor, RunRecord } from "../../core/types.js";
import { inTransaction, type Queryable } from "./connection.js";
import type { RunTable } from "./runs.js";
import type { ThreadTable } from "./threads.js";

/**
 * The PostgreSQL `RunQueue`. Every change is one transaction that first locks the thread's row,
 * so every change to a thread's runs, queue and fence is serialised across all instances: two
 * instances cannot both win a claim or a takeover.
 */
export class PgRunQueue implements Store.RunQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly threads: ThreadTable,
    private readonly runs: RunTable,
  ) {}

  async enqueue(
    run: RunRecord,
    strategy: MultitaskStrategy,
    opts?: Store.EnqueueOptions,
  ): Promise<Store.EnqueueResult> {
    return inTransaction(this.pool, (db) => this.enqueueIn(db, run, strategy, Date.now(), opts));
  }

  async claimNext(threadId: string, request: Store.LeaseRequest): Promise<Store.ClaimedRun | null> {
    const lease = { owner: request.owner, expiresAt: request.now + request.leaseMs };
    for (;;) {
      // One statement, no transaction (see `RunTable.claimHead`).
      const { locked, run } = await this.runs.claimHead(this.pool, threadId, lease, request.now);
      if (run?.lease) return { run, fence: { runId: run.runId, token: run.lease.token } };
      // Locked an idle thread but its head was taken meanwhile: look again, on a new snapshot.
      if (!locked) return null;
    }
  }

  async renew(threadId: string, fence: Fence, term: Store.LeaseTerm) {
    return inTransaction(this.pool, (db) => this.renewIn(db, threadId, fence, term));
  }

  async takeOver(threadId: string, runId: string, lease: Store.LeaseRequest & { force?: boolean }) {
    return inTransaction(this.pool, (db) => this.takeOverIn(db, threadId, runId, lease));
  }

  async markEnded(threadId: string, runId: string, end: Store.RunOutcome) {
    return inTransaction(this.pool, (db) => this.end(db, threadId, runId, end));
  }

  async requestCancel(threadId: string, runId: string, by?: RunActor) {
    return inTransaction(this.pool, (db) =>
      this.requestCancelIn(db, threadId, runId, Date.now(), by),
    );
  }

  async get(threadId: string, runId: string) {
    return this.runs.get(this.pool, threadId, runId);
  }

  async list(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    const { limit, offset } = listWindow(opts);
    return this.runs.list(this.pool, threadId, limit, offset);
  }

  async nthNewestStartSeq(threadId: string, n: number) {
    return this.runs.nthNewestStartSeq(this.pool, threadId, n);
  }

  async listStale(now: number, opts: { all?: boolean } = {}) {
    return this.runs.stale(this.pool, now, opts.all === true);
  }

  async idleThreadsWithQueue() {
    return this.runs.idleThreadsWithQueue(this.pool);
  }

  private async enqueueIn(
    db: Queryable,
    run: RunRecord,
    strategy: MultitaskStrategy,
    now: number,
    opts?: Store.EnqueueOptions,
  ): Promise<Store.EnqueueResult> {
    // The thread usually exists: it is created (idempotently) only when the lock finds none.
    const withIds = { interrupts: opts?.interrupts !== undefined };
    let locked = await this.threads.lock(db, run.threadId, run.runId, withIds);
    if (!locked) {
      await this.threads.ensure(db, run.threadId, undefined, now);
      locked = (await this.threads.lock(db, run.threadId, run.runId, withIds))!;
    }
    const { head, run: existing } = locked;
    // The rule (core) for either state of the queue, known to the store only in the insert's
    // statement: the statement inserts where the rule allows. The rule then has the last word
    // with the real count (it throws the refusal: CONFLICT, THREAD_BUSY with the count), and a
    // refusal rolls the insert back.
    const state = {
      runExists: existing !== undefined,
      activeRunId: head.active_run_id,
      ...(head.interrupt_ids ? { pendingInterrupts: head.interrupt_ids } : {}),
    };
    const allows = (queued: number) => {
      try {
        return decideEnqueue({ ...state, queued }, run, strategy, opts);
      } catch {
        return null;
      }
    };
    const [empty, queued] = [allows(0), allows(1)];
    const at = (empty ?? queued)?.position ?? "tail";
    const when = { empty: empty !== null, queued: queued !== null };
    const inserted = await this.runs.insertQueued(db, run, at, when);
    const decision = decideEnqueue({ ...state, queued: inserted.queued }, run, strategy, opts);
    if (!inserted.run) throw new Error("enqueue: the rule allowed a run the statement refused");
    const result: Store.EnqueueResult = { run: inserted.run };
    if (decision.interrupt !== null) {
      await this.runs.requestCancel(db, run.threadId, decision.interrupt);
      result.interrupted = decision.interrupt;
    }
    return result;
  }

  private async renewIn(db: Queryable, threadId: string, fence: Fence, term: Store.LeaseTerm) {
    const locked = await this.threads.lock(db, threadId, fence.runId);
    const run = locked?.run;
    const state = {
      activeRunId: locked?.head.active_run_id,
      fenceToken: locked?.head.fence_token,
      runStatus: run?.status,
      leaseToken: run?.lease_token,
    };
    if (!run || run.lease_owner === null || !leaseRenewable(state, fence)) {
      return { ok: false, cancelRequested: false };
    }
    await this.runs.extendLease(db, threadId, fence.runId, term.now + term.leaseMs);
    return { ok: true, cancelRequested: run.cancel_requested };
  }

  private async takeOverIn(
    db: Queryable,
    threadId: string,
    runId: string,
    request: Store.LeaseRequest & { force?: boolean },
  ): Promise<Store.ClaimedRun | null> {
    const locked = await this.threads.lock(db, threadId, runId);
    const run = locked?.run;
    const state = {
      activeRunId: locked?.head.active_run_id,
      runStatus: run?.status,
      leaseExpiresAt: run?.lease_expires_at,
    };
    // The caller's clock decides expiry (see the README on clock skew); the fence keeps a
    // wrong guess harmless.
    if (!locked || !takeOverAllowed(state, runId, request)) return null;
    // The new token fences out the previous holder: its appends fail with LEASE_LOST.
    const lease = { owner: request.owner, expiresAt: request.now + request.leaseMs };
    const taken = await this.runs.takeLease(db, threadId, runId, lease, locked.head.fence_token);
    const token = taken.lease!.token;
    await this.threads.setActive(db, threadId, runId, token);
    return { run: taken, fence: { runId, token } };
  }

  private async end(
    db: Queryable,
    threadId: string,
    runId: string,
    end: Store.RunOutcome,
  ): Promise<RunRecord | null> {
    const head = (await this.threads.lock(db, threadId))?.head;
    if (!head) return null;
    const ended = await this.runs.end(db, threadId, runId, end.status, end.now, end.error);
    if (ended && head.active_run_id === runId) {
      await this.threads.setActive(db, threadId, null, head.fence_token);
    }
    return ended;
  }

  private async requestCancelIn(
    db: Queryable,
    threadId: string,
    runId: string,
    now: number,
    by?: RunActor,
  ): Promise<RunRecord | null> {
    const run = (await this.threads.lock(db, threadId, runId))?.run;
    if (!run) return null;
    if (by) await this.runs.setCancelledBy(db, threadId, runId, by);
    if (run.status === "queued") return this.end(db, threadId, runId, { status: "cancelled", now });
    if (run.status === "running") return this.runs.requestCancel(db, threadId, runId);
    return this.runs.get(db, threadId, runId);
  }
}
