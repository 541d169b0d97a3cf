import { ThreadlineError } from "../core/errors.js";
import type { ThreadStore } from "../core/store.js";
import type { RunRecord, ThreadSummary } from "../core/types.js";
import type { CopilotKitThread } from "./wire.js";

/** Thread metadata keys holding what CopilotKit's thread list shows and changes. */
export const METADATA_NAME = "name";
export const METADATA_ARCHIVED = "archived";

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A Threadline thread as CopilotKit's thread store wants it. The agent of a thread is the agent
 * of its latest run (a thread may be run by several; CopilotKit's list is per agent).
 */
export function toCopilotKitThread(summary: ThreadSummary, latest: RunRecord): CopilotKitThread {
  const name = summary.metadata[METADATA_NAME];
  return {
    id: summary.threadId,
    organizationId: "",
    agentId: latest.agentId,
    createdById: "",
    name: typeof name === "string" ? name : null,
    archived: summary.metadata[METADATA_ARCHIVED] === true,
    createdAt: iso(summary.createdAt),
    updatedAt: iso(summary.updatedAt),
    lastRunAt: iso(latest.startedAt ?? latest.createdAt),
  };
}

/** The record of one thread, or null when it has no runs yet (CopilotKit lists run threads). */
export async function threadRecord(
  store: ThreadStore,
  summary: ThreadSummary,
): Promise<CopilotKitThread | null> {
  const [latest] = await store.runs.list(summary.threadId, { limit: 1 });
  return latest ? toCopilotKitThread(summary, latest) : null;
}

export interface ListQuery {
  agentId?: string;
  limit?: number;
  cursor?: string;
  includeArchived?: boolean;
  /** Whether the asking principal may read a thread (filtered, never an error). */
  canRead(threadId: string): Promise<boolean>;
}

/** Opaque paging cursor: the offset into the store's most-recently-updated-first order. */
const encodeCursor = (offset: number) =>
  Buffer.from(JSON.stringify({ o: offset })).toString("base64url");

function decodeCursor(cursor: string): number {
  try {
    const { o } = JSON.parse(Buffer.from(cursor, "base64url").toString()) as { o?: unknown };
    if (typeof o === "number" && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // falls through to the error
  }
  throw new ThreadlineError("VALIDATION_FAILED", "cursor is not one this server handed out");
}

/**
 * One page of CopilotKit's thread list: most recently updated first, the agent's threads the
 * principal may read, archived ones only when asked. Offset paging over the store's order: a
 * thread updated between two pages can show up twice (CopilotKit merges pages by id).
 */
export async function listThreadPage(
  store: ThreadStore,
  q: ListQuery,
): Promise<{ threads: CopilotKitThread[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(1, q.limit ?? DEFAULT_PAGE), MAX_PAGE);
  let offset = q.cursor ? decodeCursor(q.cursor) : 0;
  const threads: CopilotKitThread[] = [];
  const batch = Math.max(limit, 50);
  for (;;) {
    const summaries = await store.threads.list({ limit: batch, offset });
    const records = await Promise.all(
      summaries.map(async (s) => {
        if (!q.includeArchived && s.metadata[METADATA_ARCHIVED] === true) return null;
        const record = await threadRecord(store, s);
        if (!record || (q.agentId && record.agentId !== q.agentId)) return null;
        return (await q.canRead(s.threadId)) ? record : null;
      }),
    );
    for (let i = 0; i < summaries.length; i++) {
      const record = records[i];
      offset += 1;
      if (!record) continue;
      threads.push(record);
      if (threads.length === limit) {
        const more = i < summaries.length - 1 || summaries.length === batch;
        return { threads, nextCursor: more ? encodeCursor(offset) : null };
      }
    }
    if (summaries.length < batch) return { threads, nextCursor: null };
  }
}
