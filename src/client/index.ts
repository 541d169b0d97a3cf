/**
 * `threadline/client`: browser-safe clients of a Threadline server (fetch, ReadableStream,
 * TextDecoder, AbortController and timers only — no Node built-ins).
 */
export { ThreadlineError } from "../core/errors.js";
export type {
  MultitaskStrategy,
  RunRecord,
  RunStatus,
  RunTrigger,
  ThreadSummary,
  ThreadView,
} from "../core/types.js";
export * from "../protocol.js";
export { type BackoffOptions, backoffDelay } from "./backoff.js";
export {
  type FollowStatus,
  type FollowThreadOptions,
  followThread,
  type HistoryReset,
  type ThreadEvent,
} from "./follow-thread.js";
export type { FetchLike, HeadersSource } from "./http.js";
export { readSseFrames, type SseFrame, SseParser } from "./sse-parser.js";
export { ThreadlineAgent, type ThreadlineAgentConfig } from "./threadline-agent.js";
export {
  type StartRunBody,
  type StartRunResponse,
  type ThreadDetails,
  ThreadlineClient,
  type ThreadlineClientOptions,
} from "./threadline-client.js";
