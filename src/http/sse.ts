import type { LiveBatch } from "../core/fanout.js";
import type { Follow, FollowItem } from "../core/follow.js";
import { concatFrames } from "../core/sse.js";
import { DEFAULT_KEEPALIVE_MS, SSE_KEEPALIVE, SSE_THREAD_DELETED } from "../protocol.js";

const KEEPALIVE = new TextEncoder().encode(SSE_KEEPALIVE);
const THREAD_DELETED = new TextEncoder().encode(SSE_THREAD_DELETED);

/** Where a stream's keep-alive comment goes: a web stream controller or a Node response. */
export interface KeepaliveSink {
  /** Writes the comment unless the consumer is behind; false once the sink is gone. */
  keepalive(frame: Uint8Array): boolean;
}

/**
 * One timer per keep-alive interval for all open streams, not one per stream: idle followers
 * are the common case, and each would otherwise hold a timer and its closure.
 */
const keepalives = new Map<number, { timer: NodeJS.Timeout; sinks: Set<KeepaliveSink> }>();

export function keepAlive(ms: number, sink: KeepaliveSink): () => void {
  if (ms <= 0) return () => undefined;
  let group = keepalives.get(ms);
  if (!group) {
    const sinks = new Set<KeepaliveSink>();
    const timer = setInterval(() => {
      for (const s of sinks) if (!s.keepalive(KEEPALIVE)) sinks.delete(s);
    }, ms);
    timer.unref();
    group = { timer, sinks };
    keepalives.set(ms, group);
  }
  group.sinks.add(sink);
  const g = group;
  return () => {
    g.sinks.delete(sink);
    if (g.sinks.size === 0) {
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
}

/** What an SSE stream writes: a follow, or a stream built on one (a CopilotKit stream). */
export type ItemSource = Pick<Follow, "nextBatch" | "close"> & {
  /** True once the stream ended because its thread was deleted (a `Follow` says so). */
  readonly deleted?: boolean;
};

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
 * What one SSE stream writes: the source's items as frames, each burst as one chunk (one
 * syscall for a burst). Shared by the web-stream body and the Node writer that takes it over
 * (`takeOverSse`).
 */
export class SseSource {
  /** The Node writer took this stream over: the web stream must not close the follow. */
  takenOver = false;
  private toldDeleted = false;

  constructor(
    readonly follow: ItemSource,
    readonly opts: SseOptions,
  ) {}

  get keepaliveMs(): number {
    return this.opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  }

  /** The next chunk to write, or null when the stream has ended. */
  async next(): Promise<Uint8Array | null> {
    const batch = await this.follow.nextBatch();
    return batch ? concatFrames(framesOf(batch)) : this.endFrame();
  }

  close(): void {
    this.follow.close();
  }

  /** The stream's last words: a thread deleted under it says so (PROTOCOL.md §2.7), once. */
  private endFrame(): Uint8Array | null {
    if (!this.follow.deleted || this.toldDeleted) return null;
    this.toldDeleted = true;
    return THREAD_DELETED;
  }
}

const sources = new WeakMap<ReadableStream<Uint8Array>, SseSource>();

/**
 * Hands the follow behind an SSE response body to a writer that writes it straight to the
 * socket (see `node-sse.ts`), for the body that `sseResponse` made; undefined for any other
 * body. A web stream, its reader and the adapter's pump cost an idle follower several KiB,
 * and idle followers are what a server holds most of.
 */
export function takeOverSse(body: ReadableStream<Uint8Array>): SseSource | undefined {
  const source = sources.get(body);
  if (!source || source.takenOver || body.locked) return undefined;
  source.takenOver = true;
  sources.delete(body);
  void body.cancel().catch(() => undefined);
  return source;
}

/**
 * Streams a follow as SSE. Pull-based: frames are produced only as fast as the consumer takes
 * them. Idle streams get a comment line, never an event — nothing may be sent between AG-UI
 * runs. Served by Node (`listen`), the body is taken over and written to the socket directly.
 */
export function sseResponse(follow: ItemSource, opts: SseOptions = {}): Response {
  const source = new SseSource(follow, opts);
  let stopKeepalive: () => void = () => undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stopKeepalive = keepAlive(source.keepaliveMs, {
          keepalive(frame) {
            try {
              // Only into an empty queue: a consumer that is behind needs no keep-alive.
              if ((controller.desiredSize ?? 0) >= 0) controller.enqueue(frame);
              return true;
            } catch {
              return false;
            }
          },
        });
      },
      async pull(controller) {
        try {
          const chunk = await source.next();
          if (chunk) {
            controller.enqueue(chunk);
            return;
          }
          stopKeepalive();
          controller.close();
        } catch (error) {
          stopKeepalive();
          source.close();
          controller.error(error);
        }
      },
      cancel() {
        stopKeepalive();
        if (!source.takenOver) source.close();
      },
    },
    { highWaterMark: 0 },
  );
  sources.set(body, source);
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...opts.headers } });
}
