import type { Redis } from "ioredis";
import type { AppendListener, RunStartListener, Unsubscribe } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { parseRunStartPayload, RunStartListeners } from "../run-start-notice.js";
import { parseAnnouncement, type TailSource, WatermarkTail } from "../watermark-tail.js";

/**
 * Live delivery across instances: the append script PUBLISHes `first:last:threadId` on the
 * prefix's channel; one dedicated subscriber connection per store hears it and the
 * `WatermarkTail` reads the new entries from the thread's stream (XRANGE from the watermark).
 * Pub/sub is fire-and-forget, so after the subscriber reconnects (ioredis reconnects by itself)
 * it subscribes again and then reads every subscribed thread from its watermark.
 */
export class RedisLiveTail {
  private readonly tail: WatermarkTail;
  private readonly runStarts = new RunStartListeners();
  private everReady = false;
  private closed = false;

  constructor(
    private readonly sub: Redis,
    private readonly channel: string,
    source: TailSource,
    private readonly onError: (error: unknown) => void,
  ) {
    this.tail = new WatermarkTail(source, onError);
    sub.on("message", (ch: string, message: string) => {
      if (ch !== channel) return;
      const a = parseAnnouncement(message);
      if (a) this.tail.announced(a.threadId, a.first, a.last);
      else {
        const started = parseRunStartPayload(message);
        if (started) this.runStarts.emit(started);
      }
    });
    sub.on("error", (error) => this.onError(error));
    sub.on("ready", () => {
      if (!this.everReady || this.closed) return;
      // Confirmed subscription first, then the catch-up: nothing falls between the two.
      this.sub.subscribe(this.channel).then(
        () => this.tail.reconnected(),
        (error) => this.onError(error),
      );
    });
  }

  /** Subscribes to the channel; the store is not live until this resolved. */
  async start(): Promise<void> {
    await this.sub.subscribe(this.channel);
    this.everReady = true;
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  committed(threadId: string, records: readonly EventRecord[]): void {
    this.tail.committed(threadId, records);
  }

  /** Run starts of every instance, local ones included, arrive as published messages. */
  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.runStarts.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.tail.close();
    this.runStarts.clear();
    this.sub.disconnect();
  }
}
