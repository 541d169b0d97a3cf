import type { Follow } from "../core/follow.js";
import type { Telemetry } from "../core/telemetry.js";
import {
  DEFAULT_KEEPALIVE_MS,
  SSE_DATA_LOST,
  SSE_HISTORY_COMPACTED,
  SSE_KEEPALIVE,
  SSE_THREAD_DELETED,
} from "../protocol.js";
import { chunkOf } from "./sse-frames.js";

const KEEPALIVE = new TextEncoder().encode(SSE_KEEPALIVE);
const THREAD_DELETED = new TextEncoder().encode(SSE_THREAD_DELETED);
const DATA_LOST = new TextEncoder().encode(SSE_DATA_LOST);
const HISTORY_COMPACTED = new TextEncoder().encode(SSE_HISTORY_COMPACTED);

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

/** How long a follower may stay unwritable (it does not read) before it is cut off. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

/**
 * Followers that stopped reading. One sweep timer per timeout for all of them (only stalled
 * streams are in it): a follower whose socket stays unwritable past the timeout is cut off. It
 * resumes from its cursor when it reconnects, while what it pinned — the server's queue, the
 * socket's kernel buffers, megabytes each — is freed.
 */
const stalls = new Map<number, { timer: NodeJS.Timeout; since: Map<() => void, number> }>();

/** `start()` when the stream cannot write, `stop()` once it can; `cut` runs past the timeout. */
export function watchStall(timeoutMs: number, cut: () => void): { start(): void; stop(): void } {
  if (timeoutMs <= 0) return { start: () => undefined, stop: () => undefined };
  const stop = () => {
    const group = stalls.get(timeoutMs);
    if (!group?.since.delete(cut) || group.since.size > 0) return;
    clearInterval(group.timer);
    stalls.delete(timeoutMs);
  };
  return {
    start() {
      let group = stalls.get(timeoutMs);
      if (!group) {
        const since = new Map<() => void, number>();
        const timer = setInterval(
          () => {
            const now = Date.now();
            for (const [c, at] of since) {
              if (now - at < timeoutMs) continue;
              since.delete(c);
              c();
            }
            if (since.size === 0 && stalls.get(timeoutMs)?.since === since) {
              clearInterval(timer);
              stalls.delete(timeoutMs);
            }
          },
          Math.max(20, Math.min(1_000, timeoutMs / 4)),
        );
        timer.unref();
        group = { timer, since };
        stalls.set(timeoutMs, group);
      }
      if (!group.since.has(cut)) group.since.set(cut, Date.now());
    },
    stop,
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
  /** Cut a follower off that stays unwritable this long (default 30 s; 0: never). */
  writeTimeoutMs?: number;
  headers?: Record<string, string>;
  /** Told the bytes written and a follower cut off for not reading. */
  telemetry?: Pick<Telemetry, "followerBytes" | "followerCutOff">;
  /** Offer the body to this handoff's Node writer (without one, it stays a web stream). */
  handoff?: SseHandoff;
}

/** What an SSE stream writes: a follow, or a stream built on one (a CopilotKit stream). */
export type ItemSource = Pick<Follow, "nextBatch" | "close"> & {
  /** True once the stream ended because its thread was deleted (a `Follow` says so). */
  readonly deleted?: boolean;
  /** True once the stream ended because its next events were compacted away (§2.9). */
  readonly compacted?: boolean;
  /** Set once the stream ended because the store lost its data (a `Follow` says so). */
  readonly lost?: unknown;
};

/**
 * What one SSE stream writes: the source's items as frames, each burst as one chunk (one
 * syscall for a burst). Shared by the web-stream body and the Node writer that takes it over
 * (`takeOverSse`).
 */
export class SseSource {
  /** The Node writer took this stream over: the web stream must not close the follow. */
  takenOver = false;
  private toldEnd = false;

  constructor(
    readonly follow: ItemSource,
    readonly opts: SseOptions,
  ) {}

  get keepaliveMs(): number {
    return this.opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  }

  get writeTimeoutMs(): number {
    return this.opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
  }

  /** The next chunk to write, or null when the stream has ended. */
  async next(): Promise<Uint8Array | null> {
    const batch = await this.follow.nextBatch();
    const chunk = batch ? chunkOf(batch) : this.endFrame();
    if (chunk) this.opts.telemetry?.followerBytes?.(chunk.byteLength);
    return chunk;
  }

  close(): void {
    this.follow.close();
  }

  /**
   * The stream's last words, once: a thread deleted under it (PROTOCOL.md §2.7), a store that
   * lost its data (§2.8), or history compacted away under a lagging follower (§2.9) says so.
   */
  private endFrame(): Uint8Array | null {
    if (this.toldEnd) return null;
    const last = this.follow.lost
      ? DATA_LOST
      : this.follow.deleted
        ? THREAD_DELETED
        : this.follow.compacted
          ? HISTORY_COMPACTED
          : null;
    if (last) this.toldEnd = true;
    return last;
  }
}

/**
 * The SSE bodies an app made, offered to a writer that writes them straight to the socket
 * (`node-sse.ts`, under `listen()`): a web stream, its reader and the adapter's pump cost an
 * idle follower several KiB, and idle followers are what a server holds most of. One per app,
 * given to both sides (`HttpDeps.sse`, `withDirectSse`): a body is taken over only by the
 * server of the app that made it, and only a body made by `sseResponse`.
 */
export class SseHandoff {
  private readonly offered = new WeakMap<ReadableStream<Uint8Array>, SseSource>();

  offer(body: ReadableStream<Uint8Array>, source: SseSource): void {
    this.offered.set(body, source);
  }

  /** The follow behind `body`, once; undefined for any other body. */
  take(body: ReadableStream<Uint8Array>): SseSource | undefined {
    const source = this.offered.get(body);
    if (!source || source.takenOver || body.locked) return undefined;
    source.takenOver = true;
    this.offered.delete(body);
    void body.cancel().catch(() => undefined);
    return source;
  }
}

/**
 * Streams a follow as SSE. Pull-based: frames are produced only as fast as the consumer takes
 * them. Idle streams get a comment line, never an event — nothing may be sent between AG-UI
 * runs. Served by Node (`listen`), the body is taken over and written to the socket directly.
 */
export function sseResponse(follow: ItemSource, opts: SseOptions = {}): Response {
  const source = new SseSource(follow, opts);
  let stopKeepalive: () => void = () => undefined;
  let stall: ReturnType<typeof watchStall> | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // The consumer took nothing for too long: end the stream (it resumes from its cursor).
        stall = watchStall(source.writeTimeoutMs, () => {
          opts.telemetry?.followerCutOff?.("slow");
          stopKeepalive();
          source.close();
          try {
            controller.error(new Error("the follower stopped reading"));
          } catch {
            // already closed
          }
        });
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
        // A consumer that reads asks again at once (and waits here while the thread is idle);
        // one that stopped reading — a server whose socket is full — does not.
        stall?.stop();
        try {
          const chunk = await source.next();
          if (chunk) {
            controller.enqueue(chunk);
            stall?.start();
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
        stall?.stop();
        stopKeepalive();
        if (!source.takenOver) source.close();
      },
    },
    { highWaterMark: 0 },
  );
  opts.handoff?.offer(body, source);
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...opts.headers } });
}
