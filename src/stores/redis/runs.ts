import { randomUUID } from "node:crypto";
import { interruptsPending, runExists, threadBusy } from "../../core/run-rules.js";
import type * as Store from "../../core/store.js";
import { listWindow } from "../../core/store.js";
import type { Fence, MultitaskStrategy, RunActor, RunRecord } from "../../core/types.js";
import type { RedisEpoch } from "./epoch.js";
import { type RedisKeys, RUN_FIELDS, runField } from "./keys.js";
import {
  CLAIM_NEXT,
  ENQUEUE,
  LIST_RUNS,
  MARK_ENDED,
  RENEW,
  REQUEST_CANCEL,
  TAKE_OVER,
} from "./lua-runs.js";
import { json, type RunFields, runOf, staticRunOf } from "./rows.js";
import type { LuaScript } from "./script.js";

/**
 * Runs, the per-thread FIFO queue and leases. Every change is one Lua script (atomic), so two
 * instances cannot both win a claim or a takeover, and the fencing token moves with the lease.
 */
export class RedisRunQueue implements Store.RunQueue {
  constructor(
    private readonly epoch: RedisEpoch,
    private readonly keys: RedisKeys,
  ) {}

  private run(script: LuaScript, threadId: string, args: (string | number)[]) {
    return this.epoch.run(script, this.keys.forThread(threadId), [threadId, ...args]);
  }

  async enqueue(
    run: RunRecord,
    strategy: MultitaskStrategy,
    opts?: Store.EnqueueOptions,
  ): Promise<Store.EnqueueResult> {
    const reply = (await this.run(ENQUEUE, run.threadId, [
      run.runId,
      strategy,
      Date.now(),
      staticRunOf(run),
      // Tells a resend of this call (after a dropped connection) from a second enqueue.
      randomUUID(),
      opts?.interrupts ? JSON.stringify(opts.interrupts) : "",
    ])) as [string, string?, number?];
    // The script decides as `decideEnqueue` does; the errors are the same ones.
    if (reply[0] === "CONFLICT") throw runExists(run.runId);
    if (reply[0] === "INTERRUPTS") throw interruptsPending(run.threadId);
    if (reply[0] === "BUSY")
      throw threadBusy(run.threadId, reply[1] || null, Number(reply[2] ?? 0));
    const result: Store.EnqueueResult = { run: { ...structuredClone(run), status: "queued" } };
    if (reply[1]) result.interrupted = reply[1];
    return result;
  }

  async claimNext(threadId: string, lease: Store.LeaseRequest): Promise<Store.ClaimedRun | null> {
    const { owner, now } = lease;
    const args = [owner, now, now + lease.leaseMs, randomUUID()];
    const reply = (await this.run(CLAIM_NEXT, threadId, args)) as
      | [string, number, RunFields]
      | null;
    if (!reply) return null;
    const [runId, token, fields] = reply;
    return { run: runOf(threadId, runId, fields)!, fence: { runId, token: Number(token) } };
  }

  async renew(threadId: string, fence: Fence, term: Store.LeaseTerm) {
    const [ok, cancel] = (await this.run(RENEW, threadId, [
      fence.runId,
      fence.token,
      term.now + term.leaseMs,
    ])) as [number, number];
    return { ok: ok === 1, cancelRequested: ok === 1 && cancel === 1 };
  }

  async takeOver(
    threadId: string,
    runId: string,
    lease: Store.LeaseRequest & { force?: boolean },
  ): Promise<Store.ClaimedRun | null> {
    const reply = (await this.run(TAKE_OVER, threadId, [
      runId,
      lease.owner,
      lease.now,
      lease.now + lease.leaseMs,
      lease.force ? "1" : "0",
    ])) as [number, RunFields] | null;
    if (!reply) return null;
    return { run: runOf(threadId, runId, reply[1])!, fence: { runId, token: Number(reply[0]) } };
  }

  async markEnded(
    threadId: string,
    runId: string,
    end: Store.RunOutcome,
  ): Promise<RunRecord | null> {
    const fields = (await this.run(MARK_ENDED, threadId, [
      runId,
      end.status,
      end.now,
      end.error ? json(end.error) : "",
    ])) as RunFields | null;
    return fields ? runOf(threadId, runId, fields) : null;
  }

  async requestCancel(threadId: string, runId: string, by?: RunActor): Promise<RunRecord | null> {
    const fields = (await this.run(REQUEST_CANCEL, threadId, [
      runId,
      Date.now(),
      by ? json(by) : "",
    ])) as RunFields | null;
    return fields ? runOf(threadId, runId, fields) : null;
  }

  async get(threadId: string, runId: string): Promise<RunRecord | null> {
    const fields = await this.epoch.hmget(
      this.keys.runs(threadId),
      RUN_FIELDS.map((f) => runField(runId, f)),
    );
    return runOf(threadId, runId, fields as RunFields);
  }

  async list(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    const { limit, offset } = listWindow(opts);
    const rows = (await this.run(LIST_RUNS, threadId, [limit, offset])) as [string, RunFields][];
    return rows.map(([runId, f]) => runOf(threadId, runId, f)).filter((r) => r !== null);
  }

  /** Running runs whose lease expired at `now` (or all running runs), from the lease index. */
  async listStale(now: number, opts: { all?: boolean } = {}): Promise<RunRecord[]> {
    const max = opts.all ? "+inf" : now;
    const [reply] = await this.epoch.exec((m) => m.zrangebyscore(this.keys.leases, "-inf", max));
    const members = reply as string[];
    const runs = await Promise.all(
      members.map((m) => {
        const [threadId, runId] = JSON.parse(m) as [string, string];
        return this.get(threadId, runId);
      }),
    );
    return runs.filter((r): r is RunRecord => r?.status === "running");
  }

  /** Threads with a queue and no active run. A hint for start-up: claims re-check atomically. */
  async idleThreadsWithQueue(): Promise<string[]> {
    const [members] = await this.epoch.exec((m) => m.smembers(this.keys.queued));
    const threads = (members as string[]).sort();
    if (threads.length === 0) return [];
    const active = await this.epoch.exec((m) => {
      for (const t of threads) m.hget(this.keys.thread(t), "act");
    });
    return threads.filter((_, i) => active[i] === null);
  }
}
