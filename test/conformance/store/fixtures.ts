import type { BaseEvent } from "@ag-ui/core";
import type { FollowItem } from "../../../src/core/follow-item.js";
import { LiveTail } from "../../../src/core/live-tail.js";
import type { ClaimedRun, ThreadStore } from "../../../src/core/store.js";
import type { EventRecord, MultitaskStrategy, RunRecord } from "../../../src/core/types.js";

/**
 * What a backend hands the conformance suite. One object per backend: `open()` starts on fresh
 * data; the other methods act on the data of the last `open()`.
 */
export interface StoreFactory {
  /** A store on fresh, empty data. */
  open(): Promise<ThreadStore>;
  /** A store on the same data after a restart (the suite closes the previous store first). */
  reopen?(): Promise<ThreadStore>;
  /** A second live instance on the same data, as another process would have. */
  peer?(): Promise<ThreadStore>;
  /** Removes what the last `open()` created. */
  cleanup?(): Promise<void>;
}

/** The per-test harness the suite files share. */
export interface SuiteContext {
  readonly factory: StoreFactory;
  /** The store of the current test. */
  store(): ThreadStore;
  /** Closes the current store and returns it reopened on the same data. */
  restart(): Promise<ThreadStore>;
  /** Another live instance on the current data (closed after the test). */
  peer(): Promise<ThreadStore>;
}

let counter = 0;
/** A unique id per call, so tests never depend on a clean backend beyond `open()`. */
export const uid = (prefix: string): string => `${prefix}-${++counter}-${process.pid}`;

export function newRun(threadId: string, runId = uid("run"), agentId = "agent"): RunRecord {
  return {
    runId,
    threadId,
    agentId,
    trigger: { kind: "api", source: "conformance" },
    status: "queued",
    input: { forwardedProps: { n: 1 } },
    createdAt: Date.now(),
  };
}

/** Enqueues a run and makes it the thread's active run. */
export async function activeRun(
  store: ThreadStore,
  threadId: string,
  opts: { owner?: string; leaseMs?: number; now?: number; strategy?: MultitaskStrategy } = {},
): Promise<ClaimedRun> {
  const run = newRun(threadId);
  await store.runs.enqueue(run, opts.strategy ?? "enqueue");
  const claimed = await store.runs.claimNext(threadId, {
    owner: opts.owner ?? "owner-a",
    leaseMs: opts.leaseMs ?? 60_000,
    now: opts.now ?? Date.now(),
  });
  if (claimed?.run.runId !== run.runId) throw new Error(`could not claim ${run.runId}`);
  return claimed;
}

export const custom = (value: unknown): BaseEvent =>
  ({ type: "CUSTOM", name: "n", value }) as BaseEvent;

export const runStarted = (threadId: string, runId: string): BaseEvent =>
  ({ type: "RUN_STARTED", threadId, runId }) as BaseEvent;

export const runFinished = (threadId: string, runId: string, outcome?: string): BaseEvent =>
  ({
    type: "RUN_FINISHED",
    threadId,
    runId,
    ...(outcome ? { metadata: { threadline: { outcome } } } : {}),
  }) as BaseEvent;

export const runError = (message: string, code?: string): BaseEvent =>
  ({ type: "RUN_ERROR", message, ...(code ? { code } : {}) }) as BaseEvent;

export const customValue = (r: EventRecord): unknown => (r.event as { value?: unknown }).value;
export const seqs = (records: readonly { seq: number }[]): number[] => records.map((r) => r.seq);

/**
 * A thread's live batches as this process's one live tail (`src/core/live-tail.ts`) makes them
 * from the store's commit notices: what every follower gets. Resolves once it is listening (its
 * floor is read): every commit after that arrives, once, in order.
 */
export async function listen(
  store: ThreadStore,
  threadId: string,
  onBatch: (items: readonly FollowItem[]) => void,
): Promise<() => void> {
  const tail = new LiveTail(store, threadId, (batch) => onBatch(batch.items));
  await tail.ready;
  return () => tail.close();
}
export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Reads the whole log of a thread, page by page. */
export async function readAll(store: ThreadStore, threadId: string): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  for (;;) {
    const page = await store.threads.read(threadId, { after: out.length, limit: 500 });
    out.push(...page);
    if (page.length < 500) return out;
  }
}

/** Polls `check` until it holds, failing after `timeoutMs` (stores on other instances poll). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until the wall clock moved on, so two writes get distinct `updatedAt` values. */
export async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  await waitFor(() => Date.now() > start, "the clock to advance");
}

/** Lets pending I/O and timers run (a yield, not a wait for anything in particular). */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Expects a promise to reject with a ThreadlineError of `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  const got = (error as { code?: string } | undefined)?.code;
  if (got !== code) {
    throw new Error(`expected a ${code} error, got ${error === undefined ? "success" : got}`, {
      cause: error,
    });
  }
}
