import type { BaseEvent, Message } from "@ag-ui/core";
import { ThreadlineError } from "../../core/errors.js";
import { fenceFloorAfterDelete, nextFenceToken } from "../../core/run-rules.js";
import {
  type AppendListener,
  type ClaimedRun,
  type EnqueueResult,
  errorOfTerminal,
  type RunStartListener,
  type ScheduleRecordBase,
  statusOfTerminal,
  type ThreadStore,
  type Unsubscribe,
} from "../../core/store.js";
import { patchedMetadata } from "../../core/thread-patch.js";
import type {
  EventRecord,
  Fence,
  MultitaskStrategy,
  RunRecord,
  RunStatus,
  ThreadPatch,
  ThreadSummary,
  ThreadView,
  ViewUpdate,
} from "../../core/types.js";
import { applyViewUpdate } from "../../core/view.js";
import { ListenerRegistry } from "../listeners.js";
import { RunStartListeners, runStartsIn } from "../run-start-notice.js";

interface ThreadData {
  summary: ThreadSummary;
  events: EventRecord[];
  messages: Message[];
  index: Map<string, number>;
  state: unknown;
  fenceToken: number;
  runs: Map<string, RunRecord>;
  queue: string[];
}

/**
 * Backing data of a memory store. Pass the same object to a second store to simulate a restart,
 * or to run two live instances on shared data (their subscribers see each other's appends).
 */
export interface MemoryStoreData {
  threads: Map<string, ThreadData>;
  claims: Set<string>;
  schedules: Map<string, ScheduleRecordBase>;
  listeners: ListenerRegistry;
  runStarts: RunStartListeners;
  /** Every fencing token of a deleted thread is at or below this (see `nextFenceToken`). */
  fenceFloor: number;
}

export function createMemoryData(): MemoryStoreData {
  return {
    threads: new Map(),
    claims: new Set(),
    schedules: new Map(),
    listeners: new ListenerRegistry(),
    runStarts: new RunStartListeners(),
    fenceFloor: 0,
  };
}

export interface MemoryStoreOptions {
  data?: MemoryStoreData;
}

/** An in-process store for tests and demos; nothing survives the process. */
export function createMemoryStore(opts: MemoryStoreOptions = {}): ThreadStore {
  return new MemoryStore(opts.data ?? createMemoryData());
}

const copy = <T>(v: T): T => structuredClone(v);

class MemoryStore implements ThreadStore {
  readonly kind = "memory";
  /** This instance's subscriptions, removed from the shared registry on close. */
  private subscriptions = new Set<Unsubscribe>();

  constructor(private readonly data: MemoryStoreData) {}

  private thread(threadId: string): ThreadData | undefined {
    return this.data.threads.get(threadId);
  }

  private ensure(threadId: string, metadata?: Record<string, unknown>): ThreadData {
    let t = this.data.threads.get(threadId);
    if (!t) {
      const now = Date.now();
      t = {
        summary: {
          threadId,
          createdAt: now,
          updatedAt: now,
          lastSeq: 0,
          activeRunId: null,
          metadata: metadata ?? {},
        },
        events: [],
        messages: [],
        index: new Map(),
        state: {},
        fenceToken: 0,
        runs: new Map(),
        queue: [],
      };
      this.data.threads.set(threadId, t);
    }
    return t;
  }

  private issueToken(t: ThreadData): void {
    t.fenceToken = nextFenceToken(this.data.fenceFloor, t.fenceToken);
  }

  async ensureThread(threadId: string, metadata?: Record<string, unknown>) {
    return copy(this.ensure(threadId, metadata).summary);
  }

  async getThread(threadId: string): Promise<ThreadView | null> {
    const t = this.thread(threadId);
    if (!t) return null;
    return { ...copy(t.summary), messages: copy(t.messages), state: copy(t.state) };
  }

  async listThreads(opts: { limit?: number; offset?: number } = {}) {
    const all = [...this.data.threads.values()].map((t) => t.summary);
    all.sort((a, b) => b.updatedAt - a.updatedAt || (a.threadId < b.threadId ? -1 : 1));
    const offset = opts.offset ?? 0;
    return copy(all.slice(offset, offset + (opts.limit ?? 100)));
  }

  async head(threadId: string): Promise<ThreadSummary | null> {
    const t = this.thread(threadId);
    return t ? copy(t.summary) : null;
  }

  async updateThread(threadId: string, patch: ThreadPatch): Promise<ThreadSummary | null> {
    const t = this.thread(threadId);
    if (!t) return null;
    t.summary.metadata = patchedMetadata(t.summary.metadata, patch);
    t.summary.updatedAt = Date.now();
    return copy(t.summary);
  }

  async deleteThread(threadId: string): Promise<boolean> {
    const t = this.thread(threadId);
    if (!t) return false;
    this.data.fenceFloor = fenceFloorAfterDelete(this.data.fenceFloor, t.fenceToken);
    // Runs, queue and lease live inside the thread's entry: one delete removes them all.
    return this.data.threads.delete(threadId);
  }

  async append(
    threadId: string,
    fence: Fence,
    events: readonly BaseEvent[],
    view?: ViewUpdate,
  ): Promise<EventRecord[]> {
    const t = this.thread(threadId);
    const run = t?.runs.get(fence.runId);
    if (!t || !run || t.summary.activeRunId !== fence.runId || t.fenceToken !== fence.token) {
      throw new ThreadlineError("LEASE_LOST", `run ${fence.runId} no longer holds ${threadId}`);
    }
    const now = Date.now();
    const records: EventRecord[] = [];
    for (const event of events) {
      // A copy: the caller may reuse its objects, and the log must not change under readers.
      const record = {
        seq: t.summary.lastSeq + 1,
        runId: fence.runId,
        at: now,
        event: copy(event),
      };
      t.summary.lastSeq = record.seq;
      t.events.push(record);
      records.push(record);
      if (event.type === "RUN_STARTED" && run.startSeq === undefined) run.startSeq = record.seq;
      if (event.type === "RUN_FINISHED" || event.type === "RUN_ERROR") {
        run.status = statusOfTerminal(event);
        const error = errorOfTerminal(event);
        if (error) run.error = error;
        run.endedAt = now;
        delete run.lease;
        t.summary.activeRunId = null;
      }
    }
    if (view) {
      t.messages = applyViewUpdate(t.messages, t.index, view);
      if (view.state) t.state = copy(view.state.value);
    }
    t.summary.updatedAt = now;
    this.data.listeners.emit(threadId, records);
    for (const notice of runStartsIn(threadId, records)) this.data.runStarts.emit(notice);
    return records;
  }

  async read(threadId: string, opts: { after: number; limit?: number }) {
    const t = this.thread(threadId);
    if (!t) return [];
    // seq N lives at index N-1: the log is gapless.
    const from = Math.max(0, Math.floor(opts.after));
    return copy(t.events.slice(from, from + Math.max(0, opts.limit ?? 1000)));
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    const off = this.data.listeners.add(threadId, listener);
    const unsubscribe = () => {
      this.subscriptions.delete(unsubscribe);
      off();
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    const off = this.data.runStarts.add(listener);
    const unsubscribe = () => {
      this.subscriptions.delete(unsubscribe);
      off();
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  async enqueueRun(run: RunRecord, strategy: MultitaskStrategy): Promise<EnqueueResult> {
    const t = this.ensure(run.threadId);
    if (t.runs.has(run.runId)) {
      throw new ThreadlineError("CONFLICT", `run '${run.runId}' already exists on this thread`);
    }
    const busy = t.summary.activeRunId !== null || t.queue.length > 0;
    if (strategy === "reject" && busy) {
      throw new ThreadlineError("THREAD_BUSY", `thread ${run.threadId} already has a run`, {
        details: { activeRunId: t.summary.activeRunId, queued: t.queue.length },
      });
    }
    const stored = copy({ ...run, status: "queued" as const });
    t.runs.set(run.runId, stored);
    const result: EnqueueResult = { run: copy(stored) };
    if (strategy === "interrupt") {
      t.queue.unshift(run.runId);
      const active = t.summary.activeRunId ? t.runs.get(t.summary.activeRunId) : undefined;
      if (active) {
        active.cancelRequested = true;
        result.interrupted = active.runId;
      }
    } else {
      t.queue.push(run.runId);
    }
    return result;
  }

  async claimNextRun(threadId: string, owner: string, leaseMs: number, now: number) {
    const t = this.thread(threadId);
    if (!t || t.summary.activeRunId !== null) return null;
    const runId = t.queue.shift();
    const run = runId ? t.runs.get(runId) : undefined;
    if (!run) return null;
    this.issueToken(t);
    run.status = "running";
    run.startedAt = now;
    run.lease = { owner, token: t.fenceToken, expiresAt: now + leaseMs };
    t.summary.activeRunId = run.runId;
    return { run: copy(run), fence: { runId: run.runId, token: t.fenceToken } };
  }

  async renewLease(threadId: string, fence: Fence, leaseMs: number, now: number) {
    const t = this.thread(threadId);
    const run = t?.runs.get(fence.runId);
    if (
      !t ||
      !run?.lease ||
      run.status !== "running" ||
      t.summary.activeRunId !== fence.runId ||
      run.lease.token !== fence.token ||
      t.fenceToken !== fence.token
    ) {
      return { ok: false, cancelRequested: false };
    }
    run.lease.expiresAt = now + leaseMs;
    return { ok: true, cancelRequested: run.cancelRequested === true };
  }

  async takeOverRun(
    threadId: string,
    runId: string,
    owner: string,
    leaseMs: number,
    now: number,
    force = false,
  ): Promise<ClaimedRun | null> {
    const t = this.thread(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run || run.status !== "running" || t.summary.activeRunId !== runId) return null;
    if (!force && run.lease && run.lease.expiresAt > now) return null;
    this.issueToken(t);
    run.lease = { owner, token: t.fenceToken, expiresAt: now + leaseMs };
    return { run: copy(run), fence: { runId, token: t.fenceToken } };
  }

  async markRunEnded(
    threadId: string,
    runId: string,
    status: RunStatus,
    now: number,
    error?: { code: string; message: string },
  ) {
    const t = this.thread(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run) return null;
    t.queue = t.queue.filter((id) => id !== runId);
    if (t.summary.activeRunId === runId) t.summary.activeRunId = null;
    run.status = status;
    run.endedAt = now;
    delete run.lease;
    if (error) run.error = error;
    return copy(run);
  }

  async requestCancel(threadId: string, runId: string) {
    const t = this.thread(threadId);
    const run = t?.runs.get(runId);
    if (!t || !run) return null;
    if (run.status === "queued") {
      return this.markRunEnded(threadId, runId, "cancelled", Date.now());
    }
    if (run.status === "running") run.cancelRequested = true;
    return copy(run);
  }

  async getRun(threadId: string, runId: string) {
    const run = this.thread(threadId)?.runs.get(runId);
    return run ? copy(run) : null;
  }

  async listRuns(threadId: string, opts: { limit?: number; offset?: number } = {}) {
    const t = this.thread(threadId);
    if (!t) return [];
    const offset = opts.offset ?? 0;
    return copy([...t.runs.values()].reverse().slice(offset, offset + (opts.limit ?? 100)));
  }

  async listStaleRuns(now: number, opts: { all?: boolean } = {}) {
    const out: RunRecord[] = [];
    for (const t of this.data.threads.values()) {
      for (const run of t.runs.values()) {
        if (run.status !== "running") continue;
        if (opts.all || !run.lease || run.lease.expiresAt <= now) out.push(copy(run));
      }
    }
    return out;
  }

  async listIdleThreadsWithQueue() {
    return [...this.data.threads.values()]
      .filter((t) => t.summary.activeRunId === null && t.queue.length > 0)
      .map((t) => t.summary.threadId);
  }

  async claim(key: string) {
    if (this.data.claims.has(key)) return false;
    this.data.claims.add(key);
    return true;
  }

  async putSchedule<S extends ScheduleRecordBase>(schedule: S) {
    this.data.schedules.set(schedule.id, copy(schedule));
  }

  async getSchedule<S extends ScheduleRecordBase>(id: string) {
    const s = this.data.schedules.get(id);
    return s ? (copy(s) as S) : null;
  }

  async listSchedules<S extends ScheduleRecordBase>() {
    return [...this.data.schedules.values()].map((s) => copy(s) as S);
  }

  async deleteSchedule(id: string) {
    return this.data.schedules.delete(id);
  }

  async close() {
    for (const unsubscribe of [...this.subscriptions]) unsubscribe();
  }
}
