import { randomUUID } from "node:crypto";
import type { Message } from "@ag-ui/core";
import { listWindow, type ScheduleRecordBase } from "../../core/store.js";
import type { EventText, RunRecord, ThreadSummary } from "../../core/types.js";
import { CommitListeners } from "../commit-listeners.js";
import { RunStartListeners } from "../run-start-notice.js";

/** A committed event as the memory log keeps it: its JSON, parsed anew for each reader. */
export interface StoredEvent extends EventText {
  at: number;
}

export interface ThreadData {
  summary: ThreadSummary;
  events: StoredEvent[];
  messages: Message[];
  index: Map<string, number>;
  /** Message id → the seq of the batch that first wrote it (compaction removes by it). */
  messageSeqs: Map<string, number>;
  state: unknown;
  fenceToken: number;
  runs: Map<string, RunRecord>;
  queue: string[];
  /** When the pending interrupts fall due (`ViewUpdate.interrupts.dueAt`); null: never. */
  interruptsDueAt: number | null;
}

/**
 * Backing data of a memory store. Pass the same object to a second store to simulate a restart,
 * or to run two live instances on shared data (their subscribers see each other's appends).
 */
export interface MemoryStoreData {
  threads: Map<string, ThreadData>;
  /** Claim keys and when each claim expires. */
  claims: Map<string, number>;
  /** Named leases (`RecordStore.lease`). */
  leases: Map<string, { owner: string; expiresAt: number }>;
  schedules: Map<string, ScheduleRecordBase>;
  listeners: CommitListeners;
  runStarts: RunStartListeners;
  /** The data's generation: a new process has new (empty) data, so a new epoch. */
  epoch: string;
  /** Every fencing token of a deleted thread is at or below this (see `nextFenceToken`). */
  fenceFloor: number;
}

export function createMemoryData(): MemoryStoreData {
  return {
    threads: new Map(),
    claims: new Map(),
    leases: new Map(),
    schedules: new Map(),
    listeners: new CommitListeners(),
    runStarts: new RunStartListeners(),
    fenceFloor: 0,
    epoch: randomUUID(),
  };
}

/** The thread's data, created (empty) when missing. */
export function ensureThreadData(
  data: MemoryStoreData,
  threadId: string,
  metadata?: Record<string, unknown>,
): ThreadData {
  let t = data.threads.get(threadId);
  if (!t) {
    const now = Date.now();
    t = {
      summary: {
        threadId,
        createdAt: now,
        updatedAt: now,
        lastSeq: 0,
        horizon: 0,
        activeRunId: null,
        metadata: copy(metadata ?? {}),
        interrupts: [],
      },
      events: [],
      messages: [],
      index: new Map(),
      messageSeqs: new Map(),
      state: {},
      fenceToken: 0,
      runs: new Map(),
      queue: [],
      interruptsDueAt: null,
    };
    data.threads.set(threadId, t);
  }
  return t;
}

/** Nothing handed in or out is shared with the caller: the store must not change under readers. */
export const copy = <T>(v: T): T => structuredClone(v);

/** `limit` items from `offset` on, the window every store applies (`listWindow`). */
export function page<T>(items: readonly T[], opts: { limit?: number; offset?: number }): T[] {
  const { limit, offset } = listWindow(opts);
  return items.slice(offset, offset + limit);
}

/** What the run rules (`run-rules.ts`) need to know of a thread and one of its runs. */
export function fenceStateOf(t: ThreadData | undefined, run: RunRecord | undefined) {
  return {
    activeRunId: t?.summary.activeRunId,
    fenceToken: t?.fenceToken,
    runStatus: run?.status,
    leaseToken: run?.lease?.token,
    leaseExpiresAt: run?.lease?.expiresAt,
  };
}
