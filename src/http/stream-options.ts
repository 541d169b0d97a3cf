import type { HttpDeps } from "./deps.js";
import type { SseOptions } from "./sse.js";

/** How every SSE response of the app streams: the server's keep-alive, write timeout, handoff. */
export function streamOptions(
  deps: Pick<HttpDeps, "telemetry" | "config" | "sse">,
  headers?: Record<string, string>,
): SseOptions {
  const { keepaliveMs, followerWriteTimeoutMs } = deps.config;
  return {
    telemetry: deps.telemetry,
    handoff: deps.sse,
    ...(keepaliveMs === undefined ? {} : { keepaliveMs }),
    ...(followerWriteTimeoutMs === undefined ? {} : { writeTimeoutMs: followerWriteTimeoutMs }),
    ...(headers ? { headers } : {}),
  };
}
