/**
 * Wire names of the Threadline follow protocol (see PROTOCOL.md), shared by server and client.
 * This module must stay free of Node-only imports: `threadline/client` runs in browsers.
 */

/** Query parameters of `GET /threads/:threadId/events`. */
export const QUERY_AFTER = "after";
export const QUERY_REPLAY = "replay";
export const QUERY_FOLLOW = "follow";

/** Standard SSE resume header; its value is the last `seq` the client received. */
export const HEADER_LAST_EVENT_ID = "Last-Event-ID";
/** Response header naming the thread's last committed seq when the stream opened. */
export const HEADER_THREAD_LAST_SEQ = "X-Threadline-Last-Seq";
/** Response header echoing the replay mode the server chose. */
export const HEADER_REPLAY_MODE = "X-Threadline-Replay";
/**
 * Response header of a follow whose cursor is before the thread's compaction horizon: its value
 * is the horizon (events up to it are gone). The stream starts with a reset snapshot (§2.9).
 */
export const HEADER_RESET = "X-Threadline-Reset";

export const REPLAY_MODES = ["full", "compact", "none"] as const;
export type ReplayMode = (typeof REPLAY_MODES)[number];

/**
 * SSE `event:` names. Log events carry no `event:` field (stock AG-UI parsers ignore it anyway).
 * Synthetic frames are tagged so a resuming client can tell them from the log:
 * - `snapshot`: the compact-replay prefix (a self-contained run summarising the thread);
 * - `reopen`: re-opens the run in progress (its RUN_STARTED and open START events) so a stream
 *   that begins mid-run is valid AG-UI. A client that already holds the run drops these.
 */
export const SSE_EVENT_SNAPSHOT = "snapshot";
export const SSE_EVENT_REOPEN = "reopen";
/**
 * A synthetic `RUN_ERROR` (code `DATA_LOST`, no `id:`) that closes the run in progress when the
 * stream must end mid-run and the log cannot say so itself: the store lost its data (PROTOCOL.md
 * §2.8). Stock AG-UI parsers see the run end with an error.
 */
export const SSE_EVENT_ABORT = "abort";

/** Comment line written while a stream is idle. Never an event: nothing may be sent between runs. */
export const SSE_KEEPALIVE = ": keepalive\n\n";
export const DEFAULT_KEEPALIVE_MS = 15_000;

/**
 * Comment line that ends a follow stream because its thread was deleted; the server closes the
 * stream right after it. A client must not reconnect: the thread is gone (an id used again names
 * a new thread, whose seqs start at 1 again).
 */
export const SSE_THREAD_DELETED = ": thread-deleted\n\n";

/**
 * Comment line that ends a follow stream because the store lost its data (a Redis restarted
 * without persistence, PROTOCOL.md §2.8). A client must not resume with its cursor: the seqs it
 * holds belong to a log that no longer exists.
 */
export const SSE_DATA_LOST = ": data-lost\n\n";

/**
 * The generation of the store's data (stores that can lose it: Redis). A follow response names
 * it; a client resuming with a cursor sends it back (header, or query `epoch`), and a cursor from
 * another epoch gets `409 EPOCH_MISMATCH` instead of events whose seqs mean something else.
 */
export const HEADER_EPOCH = "X-Threadline-Epoch";
export const QUERY_EPOCH = "epoch";

/**
 * Comment line that ends a follow stream whose next events were compacted away while it was
 * behind (PROTOCOL.md §2.9): the client reconnects with its cursor and gets a reset snapshot.
 */
export const SSE_HISTORY_COMPACTED = ": history-compacted\n\n";

/**
 * Name of the AG-UI `CUSTOM` event inside a reset snapshot (PROTOCOL.md §2.9): its value
 * `{ after, horizon, seq }` says which history the follower skipped.
 */
export const CUSTOM_EVENT_RESET = "threadline.reset";

/**
 * Connect options as headers (CopilotKit's runtime forwards `x-*` headers to its runner but not
 * the connect body): follow forever, resume after a seq, choose the replay mode. Threadline's own
 * `/agent/:id/connect` honours them too.
 */
export const HEADER_FOLLOW = "X-Threadline-Follow";
export const HEADER_AFTER = "X-Threadline-After";
/** Request header choosing the replay mode; the response echoes the choice in the same header. */
export const HEADER_REPLAY = "X-Threadline-Replay";

/** Key under an AG-UI event's `metadata` where Threadline puts its own data (provenance etc.). */
export const METADATA_KEY = "threadline";

/** Forwarded-props key a CopilotKit client uses to ask `/agent/:id/connect` to keep following. */
export const FORWARDED_PROPS_KEY = "threadline";

/**
 * Webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Several
 * `v1=` entries may be given (secret rotation); one matching is enough.
 */
export const HEADER_SIGNATURE = "X-Threadline-Signature";
/** Webhook delivery id: a delivery seen before is acknowledged without a second run. */
export const HEADER_DELIVERY = "X-Threadline-Delivery";

/** Bearer token of every route but `/healthz` (also `?access_token=` for clients without headers). */
export const HEADER_AUTHORIZATION = "Authorization";
export const HEADER_CONTENT_TYPE = "Content-Type";
/**
 * The credential as a query parameter, for clients that cannot set headers: the bearer token,
 * or the token of a signed follow URL (`POST /threads/:id/follow-url`, PROTOCOL.md §7.1).
 */
export const QUERY_ACCESS_TOKEN = "access_token";
/** W3C Trace Context: a run started by the request is traced as a child of its trace. */
export const HEADER_TRACEPARENT = "traceparent";
export const HEADER_TRACESTATE = "tracestate";

/**
 * Every request header PROTOCOL.md documents: a browser on another origin may send each (the
 * CORS preflight allows them).
 */
export const REQUEST_HEADERS = [
  HEADER_AUTHORIZATION,
  HEADER_CONTENT_TYPE,
  HEADER_LAST_EVENT_ID,
  HEADER_FOLLOW,
  HEADER_AFTER,
  HEADER_REPLAY,
  HEADER_SIGNATURE,
  HEADER_DELIVERY,
  HEADER_EPOCH,
  HEADER_TRACEPARENT,
  HEADER_TRACESTATE,
] as const;

/** Every response header PROTOCOL.md documents: a browser on another origin may read each. */
export const RESPONSE_HEADERS = [
  HEADER_THREAD_LAST_SEQ,
  HEADER_REPLAY_MODE,
  HEADER_EPOCH,
  HEADER_RESET,
] as const;

/** Stable error codes of JSON error responses `{ "error": { "code", "message" } }`. */
export const ERROR_CODES = {
  badRequest: "BAD_REQUEST",
  invalidJson: "INVALID_JSON",
  validation: "VALIDATION_FAILED",
  unauthorized: "UNAUTHORIZED",
  forbidden: "FORBIDDEN",
  notFound: "NOT_FOUND",
  threadNotFound: "THREAD_NOT_FOUND",
  runNotFound: "RUN_NOT_FOUND",
  agentNotFound: "AGENT_NOT_FOUND",
  scheduleNotFound: "SCHEDULE_NOT_FOUND",
  hookNotFound: "HOOK_NOT_FOUND",
  threadBusy: "THREAD_BUSY",
  payloadTooLarge: "PAYLOAD_TOO_LARGE",
  uriTooLong: "URI_TOO_LONG",
  headersTooLarge: "HEADERS_TOO_LARGE",
  leaseLost: "LEASE_LOST",
  conflict: "CONFLICT",
  internal: "INTERNAL",
  unavailable: "UNAVAILABLE",
  /** The store lost data it had acknowledged (a Redis restarted without persistence). */
  dataLost: "DATA_LOST",
  /** A cursor from another epoch of the store's data (see `HEADER_EPOCH`). */
  epochMismatch: "EPOCH_MISMATCH",
  /** A store's driver (an optional peer dependency) is not installed or fails to load. */
  driverMissing: "DRIVER_MISSING",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** `RUN_ERROR.code` used when a run's process died and another one closed it. */
export const RUN_ERROR_INTERRUPTED = "INTERRUPTED";
/** `RUN_ERROR.code` when the agent failed. */
export const RUN_ERROR_AGENT_FAILED = "AGENT_ERROR";
/**
 * `RUN_ERROR.code` when the agent's event stream ended without RUN_FINISHED or RUN_ERROR (an
 * upstream stream cut short, say): never recorded as a success. Same code as CopilotKit's.
 */
export const RUN_ERROR_INCOMPLETE_STREAM = "INCOMPLETE_STREAM";
