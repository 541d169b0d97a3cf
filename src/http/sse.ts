import type { LiveBatch } from "../core/fanout.js";
import type { Follow, FollowItem } from "../core/follow.js";
import { concatFrames } from "../core/sse.js";
import { DEFAULT_KEEPALIVE_MS, SSE_KEEPALIVE } from "../protocol.js";

const KEEPALIVE = new TextEncoder().encode(SSE_KEEPALIVE);

type Controller = ReadableStreamDefaultController<Uint8Array>;

/**
 * One timer per keep-alive interval for all open streams, not one per stream: idle followers
 * are the common case, and each would otherwise hold a timer and its closure.
 */
const keepalives = new Map<number, { timer: NodeJS.Timeout; streams: Set<Controller> }>();

function keepAlive(ms: number, controller: Controller): () => void {
  let group = keepalives.get(ms);
  if (!group) {
    const streams = new Set<Controller>();
    const timer = setInterval(() => {
      for (const c of streams) {
        try {
          if ((c.desiredSize ?? 0) > 0) c.enqueue(KEEPALIVE);
        } catch {
          streams.delete(c);
        }
      }
    }, ms);
    timer.unref();
    group = { timer, streams };
    keepalives.set(ms, group);
  }
  group.streams.add(controller);
  const g = group;
  return () => {
    g.streams.delete(controller);
    if (g.streams.size === 0) {
      clearInterval(g.timer);
      if (keepalives.get(ms) === g) keepalives.delete(ms);
    }
  };
}

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
  let stopKeepalive: () => void = () => undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (keepaliveMs > 0) stopKeepalive = keepAlive(keepaliveMs, controller);
      },
      async pull(controller) {
        try {
          // Loop until something is written: a pull that enqueues nothing is not called again.
          for (;;) {
            const batch = await follow.nextBatch();
            if (!batch) {
              stopKeepalive();
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
              stopKeepalive();
              controller.close();
              return;
            }
            if (frames.length > 0) return;
          }
        } catch (error) {
          stopKeepalive();
          follow.close();
          controller.error(error);
        }
      },
      cancel() {
        stopKeepalive();
        follow.close();
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...opts.headers } });
}
