import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { keepAlive, type SseHandoff, type SseSource, watchStall } from "./sse.js";

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

/**
 * Wraps the app's fetch for @hono/node-server: an SSE follow the app answered with is written
 * straight to Node's response, everything else goes through unchanged. Outside Hono on
 * purpose: the route, its auth and its errors stay in the app (and in `app.request()` tests);
 * only the byte pump changes.
 */
export function withDirectSse(fetch: Fetch, handoff: SseHandoff): Fetch {
  return async (request, env) => {
    const response = await fetch(request, env);
    const outgoing = (env as { outgoing?: unknown } | undefined)?.outgoing;
    if (!response.body || !isServerResponse(outgoing)) return response;
    const source = handoff.take(response.body);
    if (!source) return response;
    writeSse(outgoing, response.status, Object.fromEntries(response.headers), source);
    return RESPONSE_ALREADY_SENT;
  };
}

function isServerResponse(value: unknown): value is ServerResponse {
  return typeof (value as ServerResponse | undefined)?.writeHead === "function";
}

/**
 * Writes the stream with backpressure: the next chunk is produced only once the socket has
 * taken the previous one. An idle follower costs one pending `next()` and these few closures.
 */
function writeSse(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  source: SseSource,
): void {
  res.writeHead(status, headers);
  res.flushHeaders();
  let done = false;
  const stopKeepalive = keepAlive(source.keepaliveMs, {
    keepalive(frame) {
      if (done) return false;
      if (!res.writableNeedDrain) res.write(frame);
      return true;
    },
  });
  // A follower whose socket stays full (it does not read) is cut off: reset, so the kernel
  // drops what it holds for it at once rather than keep trying to deliver it.
  const stall = watchStall(source.writeTimeoutMs, () => {
    source.opts.telemetry?.followerCutOff?.("slow");
    finish();
    const socket = res.socket;
    if (socket && typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
    else res.destroy();
  });
  const finish = () => {
    if (done) return;
    done = true;
    stall.stop();
    stopKeepalive();
    source.close();
  };
  res.once("close", finish);
  const pump = (): void => {
    source.next().then(
      (chunk) => {
        if (done) return;
        if (!chunk) {
          finish();
          res.end();
        } else if (res.write(chunk)) {
          // Not at once: Node flushes this write on its next tick, before our next batch (a
          // promise) could join it. A turn of the event loop lets commits that land meanwhile
          // go out in one larger write: fewer syscalls here, fewer wake-ups at the reader.
          setImmediate(pump);
        } else {
          stall.start();
          res.once("drain", () => {
            stall.stop();
            pump();
          });
        }
      },
      (error: unknown) => {
        finish();
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  };
  pump();
}
