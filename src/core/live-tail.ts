import { type LogBatch, logBatch } from "./follow-item.js";
import { type SchedulerClock, systemClock, type TimerHandle } from "./scheduler/clock.js";
import type { CommitNotice, ThreadStore, Unsubscribe } from "./store.js";
import type { EventRecord } from "./types.js";

const PAGE = 1000;
/** How long a tail whose read failed waits before it reads again. */
export const LIVE_TAIL_RETRY_MS = 1000;

export interface LiveTailOptions {
  /** Told of a failed read (it is retried) and of a receiver's throw. */
  onError?: (error: unknown) => void;
  /** The clock of the retry after a failed read (the runtime's one clock). Default wall time. */
  clock?: SchedulerClock;
}

/**
 * The one live tail of a thread in this process: it turns the store's commit announcements
 * (`ThreadLog.subscribe`, late, repeated or merged as they may be) into the thread's committed
 * batches, each seq once, in order, with no hole — the only place that orders live delivery.
 *
 * It starts at a floor: the thread's `lastSeq` read after subscribing (`ready`), so everything
 * committed after that read is delivered, and a reader that reads the store once `ready`
 * resolved meets the live batches without a gap. A notice with records right after what was
 * delivered is handed on as is (a local commit: no read); anything else is read from the store,
 * one reader at a time, until it is caught up.
 */
export class LiveTail {
  /** Resolves once the floor is known; rejects when it could not be read. */
  readonly ready: Promise<void>;
  /** Last seq handed on; undefined until the floor is known. */
  private delivered: number | undefined;
  /** Highest seq any notice announced. */
  private announced = 0;
  private reading = false;
  private again = false;
  private closed = false;
  private timer: TimerHandle | undefined;
  /** Batches waiting while one is handed on (a receiver that appends re-enters). */
  private queue: LogBatch[] = [];
  private emitting = false;
  private readonly unsubscribe: Unsubscribe;
  private readonly onError: (error: unknown) => void;
  private readonly clock: SchedulerClock;

  constructor(
    private readonly store: ThreadStore,
    readonly threadId: string,
    private readonly onBatch: (batch: LogBatch) => void,
    opts: LiveTailOptions = {},
  ) {
    this.onError = opts.onError ?? (() => undefined);
    this.clock = opts.clock ?? systemClock;
    this.unsubscribe = store.threads.subscribe(threadId, (n) => this.notice(n));
    this.ready = store.threads.head(threadId).then((head) => {
      if (this.closed) return;
      this.delivered = head?.lastSeq ?? 0;
      if (this.announced > this.delivered) void this.catchUp();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.timer?.cancel();
    this.queue = [];
  }

  private notice(n: CommitNotice): void {
    if (this.closed) return;
    if (n.lastSeq > this.announced) this.announced = n.lastSeq;
    const done = this.delivered;
    // Before the floor is known, `ready` reads what was announced meanwhile.
    if (done === undefined || n.lastSeq <= done) return;
    const records = n.records;
    if (!this.reading && records?.[0] && records[0].seq <= done + 1) this.deliver(records);
    else void this.catchUp();
  }

  /** Reads from what was delivered until a short page; one reader at a time. */
  private async catchUp(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        for (;;) {
          if (this.closed || this.delivered === undefined) return;
          const page = await this.store.threads.read(this.threadId, {
            after: this.delivered,
            limit: PAGE,
          });
          this.deliver(page);
          if (page.length < PAGE) break;
        }
      } while (this.again);
    } catch (error) {
      // The store is briefly unreachable: try again later rather than lose the tail.
      this.onError(error);
      this.retry();
    } finally {
      this.reading = false;
    }
  }

  private retry(): void {
    if (this.closed) return;
    this.timer?.cancel();
    // The read's promise is the timer's: a manual clock has it done when `advance` resolves.
    this.timer = this.clock.setTimer(() => this.catchUp(), LIVE_TAIL_RETRY_MS);
  }

  private deliver(records: readonly EventRecord[]): void {
    if (this.closed) return;
    const done = this.delivered ?? 0;
    let from = 0;
    while (from < records.length && records[from]!.seq <= done) from++;
    if (from === records.length) return;
    const fresh = from === 0 ? records : records.slice(from);
    this.delivered = fresh[fresh.length - 1]!.seq;
    this.queue.push(logBatch(this.threadId, fresh));
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        try {
          this.onBatch(next);
        } catch (error) {
          // Its receiver's fault: the next batch still goes out, in order.
          this.onError(error);
        }
      }
    } finally {
      this.emitting = false;
    }
  }
}
