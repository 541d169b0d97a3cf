import type { AppendListener, RunStartListener, Unsubscribe } from "../core/store.js";
import type { EventRecord } from "../core/types.js";
import { parseRunStartPayload, RunStartListeners } from "./run-start-notice.js";
import { parseAnnouncement, type TailSource, WatermarkTail } from "./watermark-tail.js";

/**
 * The live side of a store shared by several processes: every message heard on the store's
 * commit channel (PostgreSQL NOTIFY, Redis PUBLISH) is a commit announcement, read back through
 * the `WatermarkTail`, or a run-start notice. Backends add only how they listen.
 */
export abstract class ChannelTail {
  protected readonly tail: WatermarkTail;
  protected readonly runStarts = new RunStartListeners();

  constructor(source: TailSource, onError: (error: unknown) => void) {
    this.tail = new WatermarkTail(source, onError);
  }

  /** A message of the commit channel. */
  protected heard(message: string): void {
    const a = parseAnnouncement(message);
    if (a) {
      this.tail.announced(a.threadId, a.first, a.last);
      return;
    }
    const started = parseRunStartPayload(message);
    if (started) this.runStarts.emit(started);
  }

  subscribe(threadId: string, listener: AppendListener): Unsubscribe {
    return this.tail.subscribe(threadId, listener);
  }

  committed(threadId: string, records: readonly EventRecord[]): void {
    this.tail.committed(threadId, records);
  }

  /** Run starts of every instance, local ones included, arrive on the channel. */
  subscribeRunStarts(listener: RunStartListener): Unsubscribe {
    return this.runStarts.add(listener);
  }

  /** Stops delivering: no listener hears anything after this. */
  protected stopTail(): void {
    this.tail.close();
    this.runStarts.clear();
  }
}
