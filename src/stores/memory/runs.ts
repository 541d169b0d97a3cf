import { nthNewestStartSeq } from "../../core/retention.js";
import {
  decideEnqueue,
  leaseRenewable,
  nextFenceToken,
  takeOverAllowed,
} from "../../core/run-rules.js";
import type * as Store from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunActor, RunRecord } from "../../core/types.js";
import {
  copy,
  ensureThreadData,
  fenceStateOf,
  type MemoryStoreData,
  page,
  type ThreadData,
} from "./data.js";

/** Ends a run: out of the queue, lease dropped, thread freed if it was the active run. */
export function endRun(t: ThreadData, run: RunRecord, end: Store.RunOutcome): void {
  t.queue = t.queue.filter((id) => id !== run.runId);
  if (t.summary.activeRunId === run.runId) t.summary.activeRunId = null;
  run.status = end.status;
  run.endedAt = end.now;
  delete run.lease;
  if (end.error) run.error = end.error;
}

/** Runs, the per-thread queue and leases, kept inside each thread's entry. */
export class MemoryRuns implements Store.RunQueue {
  constructor(private readonly data: MemoryStoreData) {}

  private issueToken(t: ThreadData): number {
    t.fenceToken = nextFenceToken(this.data.fenceFloor, t.fenceToken);
    return t.fenceToken;
  }

  async enqueue(
    run: RunRecord,
    strategy: MultitaskStrategy,
    opts?: Store.EnqueueOptions,
  ): Promise<Store.EnqueueResult> {
    const t = ensureThreadData(this.data, run.threadId);
    const decision = decideEnqueue(
      {
        runExists: t.runs.has(run.runId),
        activeRunId: t.summary.activeRunId,
        queued: t.queue.length,
        ...(opts?.interrupts
          ? { pendingInterrupts: (t.summary.interrupts ?? []).map((i) => i.id) }
          : {}),
      },
      run,
      strategy,
      opts,
    );
    const stored = copy({ ...run, status: "queued" as const });
    t.runs.set(run.runId, stored);
    const result: Store.EnqueueResult = { run: copy(stored) };
    if (decision.position === "head") t.queue.unshift(run.runId);
    else t.queue.push(run.runId);
    const active = decision.interrupt ? t.runs.get(decision.interrupt) : undefined;
    if (active) {
      active.cancelRequested = true;
      result.interrupted = active.runId;
    }
    return result;
  }

  async claimNext(threadId: string, lease: Store.LeaseRequest): Promise<Store.ClaimedRun | null> {
    const t = this.data.threads.get(threadId);
    if (!t || t.summary.activeRunId !== null) return null;
    const runId = t.queue.shift();
    const run = runId ? t.runs.get(runId) : undefined;
    if (!run) return null;
    const token = this.issueToken(t);
    run.status = "running";
    run.startedAt = lease.now;
    run.lease = { owner: lease.owner, token, expiresAt: lease.now + lease.leaseMs };
    t.summary.activeRunId = run.runId;
    return { run: copy(run), fence: { runId: run.runId, token } };
  }

  async renew(threadId: string, fence: Fence, term: Store.LeaseTerm) {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(fence.runId);
    if (!run?.lease || !leaseRenewable(fenceStateOf(t, run), fence))
      return { ok: false, cancelRequested: false };
    run.lease.expiresAt = term.now + term.leaseMs;
    return { ok: true, cancelRequested: run.cancelRequested === true };
  }

  async takeOver(threadId: string, runId: string, lease: Store.LeaseRequest & { force?: boolean }) {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run || !takeOverAllowed(fenceStateOf(t, run), runId, lease)) return null;
    const token = this.issueToken(t);
    run.lease = { owner: lease.owner, token, expiresAt: lease.now + lease.leaseMs };
    return { run: copy(run), fence: { runId, token } };
  }

  async markEnded(threadId: string, runId: string, end: Store.RunOutcome) {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run) return null;
    endRun(t, run, end);
    return copy(run);
  }

  async requestCancel(threadId: string, runId: string, by?: RunActor) {
    const t = this.data.threads.get(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run) return null;
    if (by && !run.cancelledBy && (run.status === "queued" || run.status === "running")) {
      run.cancelledBy = { ...by };
    }
    if (run.status === "queued")
      return this.markEnded(threadId, runId, { status: "cancelled", now: Date.now() });
    if (run.status === "running") run.cancelRequested = true;
    return copy(run);
  }

  async get(threadId: string, runId: string) {
    const run = this.data.threads.get(threadId)?.runs.get(runId);
    return run ? copy(run) : null;
  }

  async list(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    const t = this.data.threads.get(threadId);
    return t ? copy(page([...t.runs.values()].reverse(), opts)) : [];
  }

  async nthNewestStartSeq(threadId: string, n: number) {
    const t = this.data.threads.get(threadId);
    return t ? nthNewestStartSeq([...t.runs.values()], n) : null;
  }

  async listStale(now: number, opts: { all?: boolean } = {}) {
    const out: RunRecord[] = [];
    for (const t of this.data.threads.values()) {
      for (const run of t.runs.values()) {
        if (run.status !== "running") continue;
        if (opts.all || !run.lease || run.lease.expiresAt <= now) out.push(copy(run));
      }
    }
    return out;
  }

  async idleThreadsWithQueue() {
    return [...this.data.threads.values()]
      .filter((t) => t.summary.activeRunId === null && t.queue.length > 0)
      .map((t) => t.summary.threadId);
  }
}
