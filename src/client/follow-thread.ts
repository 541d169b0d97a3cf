import type { BaseEvent } from "@ag-ui/core";
import { ThreadlineError } from "../core/errors.js";
import {
  HEADER_EPOCH,
  HEADER_LAST_EVENT_ID,
  HEADER_REPLAY_MODE,
  HEADER_RESET,
  HEADER_THREAD_LAST_SEQ,
  QUERY_AFTER,
  QUERY_REPLAY,
  type ReplayMode,
  SSE_DATA_LOST,
  SSE_EVENT_ABORT,
  SSE_EVENT_REOPEN,
  SSE_EVENT_SNAPSHOT,
  SSE_HISTORY_COMPACTED,
  SSE_THREAD_DELETED,
} from "../protocol.js";
import { type BackoffOptions, backoffDelay, sleep } from "./backoff.js";
import {
  defaultFetch,
  type FetchLike,
  type HeadersSource,
  joinUrl,
  resolveHeaders,
} from "./http.js";
import { readSseFrames, type SseFrame } from "./sse-parser.js";

/**
 * One item of a follow: a log event, or a synthetic `snapshot` / `reopen` event, or the `abort`
 * RUN_ERROR that ends a run the store lost (right before the follow throws `DATA_LOST`).
 */
export interface ThreadEvent {
  /** The log position: a log event's own seq; for synthetic items, the seq they stand for. */
  seq: number;
  event: BaseEvent;
  kind: "event" | "snapshot" | "reopen" | "abort";
  /**
   * On the items of a reset prefix (PROTOCOL.md §2.9): the history after `after` was compacted
   * away up to `horizon`, and this snapshot stands for it. Events between were skipped.
   */
  reset?: HistoryReset;
}

/** History a follow skipped because the thread was compacted (PROTOCOL.md §2.9). */
export interface HistoryReset {
  /** The cursor the follow resumed from. */
  after: number;
  /** The thread's compaction horizon: events up to it are gone. */
  horizon: number;
}

/** Connection state of a follower, for UIs ("reconnecting in 2 s..."). */
export type FollowStatus =
  | { state: "connecting"; attempt: number; cursor?: number }
  | {
      state: "open";
      attempt: number;
      cursor?: number;
      /** `X-Threadline-Last-Seq`: where the stream starts once its replay is delivered. */
      lastSeq?: number;
      replay?: ReplayMode;
      /** True when this connection resumed from a cursor (its `reopen` frames are dropped). */
      resumed: boolean;
      /** Set when the cursor was before the thread's compaction horizon (§2.9). */
      reset?: HistoryReset;
    }
  | {
      state: "reconnecting";
      /** The attempt that will follow the delay. */
      attempt: number;
      delayMs: number;
      /** Consecutive failures so far (resets once a stream delivers something). */
      failures: number;
      cursor?: number;
      reason: string;
      error?: unknown;
    };

export interface FollowThreadOptions {
  /** Resume after this seq (events with a greater seq follow; `reopen` frames are dropped). */
  after?: number;
  /**
   * The store epoch `after` was taken in (the `X-Threadline-Epoch` of the stream it came from):
   * keep it with a saved cursor, and a resume into a store that lost its data since fails with
   * `EPOCH_MISMATCH` instead of yielding another log's events. Learnt from each response.
   */
  epoch?: string;
  /** Replay of the first connection. Reconnections always resume with `full` from the cursor. */
  replay?: ReplayMode;
  headers?: HeadersSource;
  /** Aborting ends the iteration (without an error). */
  signal?: AbortSignal;
  fetch?: FetchLike;
  backoff?: BackoffOptions;
  onStatus?: (status: FollowStatus) => void;
}

/** Status codes after which waiting and retrying can help. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 60_000;

/** The comment text of the thread-deleted marker (`: thread-deleted`). */
const DELETED_COMMENT = SSE_THREAD_DELETED.slice(2).trim();
/** The comment text of the history-compacted end (`: history-compacted`). */
const COMPACTED_COMMENT = SSE_HISTORY_COMPACTED.slice(2).trim();
/** The comment text of the data-lost marker (`: data-lost`). */
const DATA_LOST_COMMENT = SSE_DATA_LOST.slice(2).trim();

const protocolError = (message: string) =>
  new ThreadlineError("PROTOCOL_ERROR", message, { status: 502 });

function parseSeq(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function parseEvent(frame: SseFrame): BaseEvent {
  let event: unknown;
  try {
    event = JSON.parse(frame.data ?? "");
  } catch {
    throw protocolError(`frame data is not JSON: ${String(frame.data).slice(0, 100)}`);
  }
  if (!event || typeof event !== "object" || typeof (event as BaseEvent).type !== "string") {
    throw protocolError("frame data is not an AG-UI event");
  }
  return event as BaseEvent;
}

function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 0;
}

/**
 * Follows a thread: yields its events from the replay on, through every future run, and
 * reconnects by itself — after network errors, stream ends and server restarts (5xx) — with its
 * cursor and exponential backoff with jitter. It never yields a log event twice or skips one
 * (their seqs are checked to be consecutive; a gap makes it reconnect from its cursor, which the
 * server fills). A synthetic compact-replay prefix is yielded only once complete, so a drop in
 * the middle of it never leaves half a snapshot run behind.
 *
 * It ends when `signal` aborts, the caller leaves the loop, or the thread is deleted (the server's
 * thread-deleted marker, PROTOCOL.md §2.7). Errors no retry can fix (401, 403, 404, 400...) are
 * thrown as ThreadlineError; so is the end of a store that lost its data (`DATA_LOST`, §2.8) and
 * a resume into a newer epoch of it (`EPOCH_MISMATCH`): its cursor means nothing there.
 */
export async function* followThread(
  baseUrl: string,
  threadId: string,
  opts: FollowThreadOptions = {},
): AsyncGenerator<ThreadEvent, void, undefined> {
  const fetchFn = opts.fetch ?? defaultFetch;
  const outer = opts.signal;
  const url = joinUrl(baseUrl, `/threads/${encodeURIComponent(threadId)}/events`);
  let cursor = opts.after === undefined ? undefined : Math.max(0, Math.floor(opts.after));
  /** The store epoch the cursor belongs to (`X-Threadline-Epoch`), sent back on resuming. */
  let epoch: string | undefined = opts.epoch;
  let failures = 0;
  let attempt = 0;
  let conn: AbortController | undefined;
  const abortConn = () => conn?.abort();
  outer?.addEventListener("abort", abortConn);

  try {
    while (!outer?.aborted) {
      attempt += 1;
      let reason = "the stream ended";
      let failure: unknown;
      let minDelay = 0;
      let compacted = false;
      opts.onStatus?.({
        state: "connecting",
        attempt,
        ...(cursor === undefined ? {} : { cursor }),
      });
      conn = new AbortController();
      const resumed = cursor !== undefined;
      const query = new URLSearchParams();
      const headers: Record<string, string> = {
        ...(await resolveHeaders(opts.headers)),
        accept: "text/event-stream",
      };
      if (resumed) {
        // On reconnection the cursor decides, and only `full` resumes exactly after it.
        query.set(QUERY_AFTER, String(cursor));
        query.set(QUERY_REPLAY, attempt === 1 && opts.replay ? opts.replay : "full");
        headers[HEADER_LAST_EVENT_ID] = String(cursor);
        if (epoch !== undefined) headers[HEADER_EPOCH] = epoch;
      } else if (opts.replay) {
        query.set(QUERY_REPLAY, opts.replay);
      }
      const q = query.toString();

      let response: Response | undefined;
      try {
        response = await fetchFn(q ? `${url}?${q}` : url, { headers, signal: conn.signal });
      } catch (error) {
        if (outer?.aborted) return;
        reason = "network error";
        failure = error;
      }

      if (response && !response.ok) {
        if (!RETRYABLE_STATUS.has(response.status))
          throw await ThreadlineError.fromResponse(response);
        reason = `HTTP ${response.status}`;
        failure = await ThreadlineError.fromResponse(response);
        minDelay = retryAfterMs(response);
      } else if (response) {
        const type = response.headers.get("content-type") ?? "";
        if (!type.includes("text/event-stream")) {
          await response.body?.cancel().catch(() => undefined);
          throw protocolError(`expected an event stream, got '${type}'`);
        }
        const lastSeq = parseSeq(response.headers.get(HEADER_THREAD_LAST_SEQ));
        epoch = response.headers.get(HEADER_EPOCH) ?? epoch;
        const replay = (response.headers.get(HEADER_REPLAY_MODE) ?? undefined) as
          | ReplayMode
          | undefined;
        // The cursor was compacted away: the stream starts with a snapshot like a fresh one,
        // whose last frame carries the new cursor, and its reopen frames are to be applied.
        const horizon = parseSeq(response.headers.get(HEADER_RESET));
        let reset: HistoryReset | undefined;
        if (horizon !== undefined && cursor !== undefined) {
          reset = { after: cursor, horizon };
          cursor = undefined;
        }
        const dropReopen = resumed && !reset;
        // A fresh stream's position is known from its header, except while a compact prefix is
        // still to come: that prefix must arrive whole, and its last frame carries the cursor.
        if (
          cursor === undefined &&
          lastSeq !== undefined &&
          (replay !== "compact" || lastSeq === 0)
        ) {
          cursor = lastSeq;
        }
        opts.onStatus?.({
          state: "open",
          attempt,
          resumed,
          ...(cursor === undefined ? {} : { cursor }),
          ...(lastSeq === undefined ? {} : { lastSeq }),
          ...(replay ? { replay } : {}),
          ...(reset ? { reset } : {}),
        });

        let prefix: ThreadEvent[] = [];
        let deleted = false;
        let lost = false;
        try {
          for await (const frame of readSseFrames(
            response.body ?? new ReadableStream(),
            conn.signal,
          )) {
            failures = 0;
            if (frame.data === undefined) {
              // A keep-alive comment or an empty frame, or the end of the thread.
              if (frame.commentText === DELETED_COMMENT) {
                deleted = true;
                break;
              }
              if (frame.commentText === COMPACTED_COMMENT) {
                reason = "history compacted";
                compacted = true;
                break;
              }
              if (frame.commentText === DATA_LOST_COMMENT) {
                lost = true;
                break;
              }
              continue;
            }
            const event = parseEvent(frame);
            if (frame.event === SSE_EVENT_ABORT) {
              yield { seq: cursor ?? 0, event, kind: "abort" };
              continue;
            }
            const kind =
              frame.event === SSE_EVENT_SNAPSHOT
                ? "snapshot"
                : frame.event === SSE_EVENT_REOPEN
                  ? "reopen"
                  : "event";
            const id = parseSeq(frame.id);
            if (frame.id !== undefined && id === undefined) {
              throw protocolError(`frame id is not a seq: '${frame.id}'`);
            }
            if (kind === "event") {
              if (id === undefined) throw protocolError("a log event arrived without an id");
              if (cursor !== undefined && id <= cursor) continue; // already delivered
              if (cursor !== undefined && id !== cursor + 1) {
                reason = `gap in the stream (expected seq ${cursor + 1}, got ${id})`;
                break;
              }
              prefix = [];
              cursor = id;
              yield { seq: id, event, kind };
              continue;
            }
            // The caller already holds the run open when it resumed.
            if (kind === "reopen" && dropReopen) continue;
            if (cursor === undefined) {
              prefix.push({ seq: 0, event, kind, ...(reset ? { reset } : {}) });
              if (id === undefined) continue;
              cursor = id;
              const complete = prefix;
              prefix = [];
              for (const item of complete) yield { ...item, seq: id };
              continue;
            }
            yield { seq: cursor, event, kind };
          }
        } catch (error) {
          if (outer?.aborted) return;
          if (ThreadlineError.is(error, "PROTOCOL_ERROR")) throw error;
          reason = "the stream failed";
          failure = error;
        }
        // The thread is gone for good: reconnecting would only find a 404 (or a new thread).
        if (deleted) return;
        if (lost) {
          throw new ThreadlineError(
            "DATA_LOST",
            "the server's store lost its data: this thread's log (and the cursor into it) is gone",
            { status: 503 },
          );
        }
      }

      if (outer?.aborted) return;
      conn.abort();
      // Compacted under a lagging follower: nothing failed, reconnect at once (it gets a reset).
      if (!compacted) failures += 1;
      const delayMs = compacted ? 0 : Math.max(minDelay, backoffDelay(failures, opts.backoff));
      opts.onStatus?.({
        state: "reconnecting",
        attempt: attempt + 1,
        delayMs,
        failures,
        reason,
        ...(cursor === undefined ? {} : { cursor }),
        ...(failure === undefined ? {} : { error: failure }),
      });
      await sleep(delayMs, outer);
    }
  } finally {
    outer?.removeEventListener("abort", abortConn);
    conn?.abort();
  }
}
