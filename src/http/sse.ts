import type { LiveBatch } from "../core/fanout.js";
import type { Follow, FollowItem } from "../core/follow.js";
import { concatFrames } from "../core/sse.js";
import { DEFAULT_KEEPALIVE_MS, SSE_KEEPALIVE } from "../protocol.js";

const KEEPALIVE = new TextEncoder().encode(SSE_KEEPALIVE);

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  // Tell proxies such as nginx not to buffer the stream.
  "x-accel-buffering": "no",
};

export interface SseOptions {
  keepaliveMs?: number;
  headers?: Record<string, string>;
  /** Stop after an item for which this returns true (e.g. a run's terminal event). */
  until?: (item: FollowItem) => boolean;
  /** Only write items for which this returns true. */
  filter?: (item: FollowItem) => boolean;
}

/**
 * The frames to write for consecutive follow items: a committed batch taken whole goes out as
 * the one chunk the fan-out encoded for every follower; a batch taken in part, item by item.
 */
export function framesOf(items: readonly FollowItem[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < items.length; i++) {
    const item: FollowItem = items[i]!;
    const shared: LiveBatch | undefined = item.batch;
    const end = shared ? i + shared.last - shared.first : i;
    if (shared && item.seq === shared.first && items[end]?.batch === shared) {
      frames.push(shared.frame);
      i = end;
    } else {
      frames.push(item.frame);
    }
  }
  return frames;
}

/**
 * Streams a follow as SSE. Pull-based: frames are produced only as fast as the socket takes
 * them, and everything queued is written as one chunk (one syscall for a burst). Idle streams
 * get a comment line, never an event — nothing may be sent between AG-UI runs.
 */
export function sseResponse(follow: Follow, opts: SseOptions = {}): Response {
  const keepaliveMs = opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  let timer: NodeJS.Timeout | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (keepaliveMs > 0) {
          timer = setInterval(() => {
            try {
              if ((controller.desiredSize ?? 0) > 0) controller.enqueue(KEEPALIVE);
            } catch {
              clearInterval(timer);
            }
          }, keepaliveMs);
          timer.unref();
        }
      },
      async pull(controller) {
        try {
          // Loop until something is written: a pull that enqueues nothing is not called again.
          for (;;) {
            const batch = await follow.nextBatch();
            if (!batch) {
              clearInterval(timer);
              controller.close();
              return;
            }
            const frames: Uint8Array[] = [];
            let stop = false;
            if (!opts.filter && !opts.until) {
              frames.push(...framesOf(batch));
            } else {
              for (const item of batch) {
                if (!opts.filter || opts.filter(item)) frames.push(item.frame);
                if (opts.until?.(item)) {
                  stop = true;
                  break;
                }
              }
            }
            if (frames.length > 0) controller.enqueue(concatFrames(frames));
            if (stop) {
              follow.close();
              clearInterval(timer);
              controller.close();
              return;
            }
            if (frames.length > 0) return;
          }
        } catch (error) {
          clearInterval(timer);
          follow.close();
          controller.error(error);
        }
      },
      cancel() {
        clearInterval(timer);
        follow.close();
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...opts.headers } });
}
