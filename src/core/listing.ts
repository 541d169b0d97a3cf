import { ThreadlineError } from "./errors.js";
import type { ThreadStore } from "./store.js";
import {
  RUN_STATUSES,
  type RunRecord,
  type RunStatus,
  type ThreadSummary,
  TRIGGER_KINDS,
  type TriggerKind,
} from "./types.js";

/**
 * Paging, search and filters of the thread and run lists (`GET /threads`, `GET
 * /threads/:id/runs`). Stores page by offset, newest first; a filter or a search is applied here
 * by scanning those pages, so every backend gets it without a query language of its own.
 *
 * A filtered request reads at most `SCAN_BUDGET` rows: its cost is bounded however long the
 * list is and however rare the matches. `next` is the offset to ask for the following page; it
 * counts every row scanned, matching or not, so a page may hold fewer matches than its limit
 * (even none) and still have a `next`.
 */
export const SCAN_BUDGET = 5_000;
/** Rows read from the store per scan step. */
const SCAN_CHUNK = 500;
/** Longest accepted search text (a search is a substring scan: keep it a search, not a blob). */
export const MAX_QUERY_LENGTH = 200;

export interface Page<T> {
  items: T[];
  /** The offset of the following page; absent when this page reaches the end. */
  next?: number;
}

type Read<T> = (offset: number, limit: number) => Promise<T[]>;

async function page<T>(
  read: Read<T>,
  offset: number,
  limit: number,
  match?: (item: T) => boolean,
): Promise<Page<T>> {
  if (!match) {
    // One more than asked says whether there is a following page.
    const rows = await read(offset, limit + 1);
    return rows.length > limit
      ? { items: rows.slice(0, limit), next: offset + limit }
      : { items: rows };
  }
  const items: T[] = [];
  let at = offset;
  while (at - offset < SCAN_BUDGET) {
    const want = Math.min(SCAN_CHUNK, SCAN_BUDGET - (at - offset));
    const rows = await read(at, want);
    for (const [i, row] of rows.entries()) {
      if (!match(row)) continue;
      items.push(row);
      if (items.length === limit) {
        const after = at + i + 1;
        const last = rows.length < want && i === rows.length - 1;
        return last ? { items } : { items, next: after };
      }
    }
    at += rows.length;
    if (rows.length < want) return { items };
  }
  return { items, next: at };
}

/** Which runs a run list shows: any of these statuses and any of these trigger kinds. */
export interface RunFilter {
  status?: readonly RunStatus[];
  trigger?: readonly TriggerKind[];
}

export function pageRuns(
  store: ThreadStore,
  threadId: string,
  opts: { limit: number; offset: number } & RunFilter,
): Promise<Page<RunRecord>> {
  const status = opts.status?.length ? new Set(opts.status) : undefined;
  const trigger = opts.trigger?.length ? new Set(opts.trigger) : undefined;
  const match =
    status || trigger
      ? (r: RunRecord) =>
          (!status || status.has(r.status)) && (!trigger || trigger.has(r.trigger.kind))
      : undefined;
  return page(
    (offset, limit) => store.runs.list(threadId, { offset, limit }),
    opts.offset,
    opts.limit,
    match,
  );
}

/**
 * The text a thread search looks in: its id and each metadata entry as `key=value` (nested keys
 * dotted, non-string values as JSON), one per line, lower-cased.
 */
export function searchText(t: ThreadSummary): string {
  const lines = [t.threadId];
  const walk = (value: unknown, path: string) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else {
      lines.push(`${path}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    }
  };
  walk(t.metadata ?? {}, "");
  return lines.join("\n").toLowerCase();
}

/** Search words: a thread matches when its `searchText` contains every one. */
export function searchTerms(q: string | undefined): string[] {
  if (q === undefined) return [];
  if (q.length > MAX_QUERY_LENGTH) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `q must be at most ${MAX_QUERY_LENGTH} characters, got ${q.length}`,
    );
  }
  return q.toLowerCase().split(/\s+/).filter(Boolean);
}

export function pageThreads(
  store: ThreadStore,
  opts: {
    limit: number;
    offset: number;
    q?: string;
    /** Only threads the caller may see (per-user access); scanned like a search. */
    visible?: (t: ThreadSummary) => boolean;
  },
): Promise<Page<ThreadSummary>> {
  const terms = searchTerms(opts.q);
  const visible = opts.visible;
  const search = terms.length
    ? (t: ThreadSummary) => {
        const text = searchText(t);
        return terms.every((term) => text.includes(term));
      }
    : undefined;
  const match =
    search && visible ? (t: ThreadSummary) => visible(t) && search(t) : (search ?? visible);
  return page(
    (offset, limit) => store.threads.list({ offset, limit }),
    opts.offset,
    opts.limit,
    match,
  );
}

/** Parses a list filter (`status=failed,cancelled` or repeated) against its allowed values. */
export function parseChoices<T extends string>(
  name: string,
  values: readonly string[] | undefined,
  allowed: readonly T[],
): T[] {
  const out: T[] = [];
  for (const value of (values ?? []).flatMap((v) => v.split(","))) {
    const v = value.trim();
    if (!v) continue;
    if (!allowed.includes(v as T)) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `${name} must be one of ${allowed.join(", ")}, got '${clip(v)}'`,
      );
    }
    if (!out.includes(v as T)) out.push(v as T);
  }
  return out;
}

const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s);

export const parseRunStatuses = (values: readonly string[] | undefined) =>
  parseChoices("status", values, RUN_STATUSES);
export const parseTriggerKinds = (values: readonly string[] | undefined) =>
  parseChoices("trigger", values, TRIGGER_KINDS);
