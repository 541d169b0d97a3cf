import type { Redis } from "ioredis";
import type { TailSource } from "../channel-tail.js";
import { ChannelTail } from "../channel-tail.js";

/**
 * Live delivery across instances: the append script PUBLISHes `first:last:threadId` on the
 * prefix's channel; one dedicated subscriber connection per store hears it and the
 * thread's listeners are told (the core live tail reads the new entries).
 * Pub/sub is fire-and-forget, so after the subscriber reconnects (ioredis reconnects by itself)
 * it subscribes again and then announces every subscribed thread's current end.
 */
export class RedisLiveTail extends ChannelTail {
  private everReady = false;
  private closed = false;

  constructor(
    private readonly sub: Redis,
    private readonly channel: string,
    source: TailSource,
    private readonly onError: (error: unknown) => void,
  ) {
    super(source, onError);
    sub.on("message", (ch: string, message: string) => {
      if (ch === channel) this.heard(message);
    });
    sub.on("error", (error) => this.onError(error));
    sub.on("ready", () => {
      if (!this.everReady || this.closed) return;
      // Confirmed subscription first, then the catch-up: nothing falls between the two.
      this.sub.subscribe(this.channel).then(
        () => this.reconnected(),
        (error) => this.onError(error),
      );
    });
  }

  /** Subscribes to the channel; the store is not live until this resolved. */
  async start(): Promise<void> {
    await this.sub.subscribe(this.channel);
    this.everReady = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTail();
    this.sub.disconnect();
  }
}
