import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { METADATA_KEY, RUN_ERROR_AGENT_FAILED } from "../protocol.js";
import { RunTracker } from "./run-tracker.js";
import type { ThreadStore } from "./store.js";
import type { EventRecord, Fence, RunTrigger } from "./types.js";
import type { ViewBuilder } from "./view.js";

/** Pending events above which the agent is paused until a commit lands (backpressure). */
const HIGH_WATER = 2_000;

export interface RunWriterOptions {
  store: ThreadStore;
  threadId: string;
  fence: Fence;
  view: ViewBuilder;
  /** Called once when an append fails (lease lost, store down): the run must stop. */
  onFatal: (error: unknown) => void;
}

/**
 * Turns one run's agent events into committed log entries.
 * - Normalises the stream: exactly one RUN_STARTED (ours, with provenance), nothing after the
 *   terminal event, every open construct closed before a terminal event we synthesise.
 * - Group commit: everything written within one tick goes into one `append`; appends of a run
 *   are strictly sequential, so order is preserved without locks.
 */
export class RunWriter {
  readonly tracker = new RunTracker();
  private pending: BaseEvent[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  private failed = false;
  private lastRecord: EventRecord | undefined;

  constructor(private readonly opts: RunWriterOptions) {}

  get threadId(): string {
    return this.opts.threadId;
  }

  get runId(): string {
    return this.opts.fence.runId;
  }

  get closed(): boolean {
    return this.tracker.terminal !== undefined || this.failed;
  }

  get lastSeq(): number | undefined {
    return this.lastRecord?.seq;
  }

  /** Our RUN_STARTED: carries the new input messages and the run's provenance. */
  start(input: RunAgentInput, trigger: RunTrigger, agentId: string): void {
    this.push({
      type: EventType.RUN_STARTED,
      threadId: this.opts.threadId,
      runId: this.runId,
      input,
      metadata: { [METADATA_KEY]: { trigger, agentId } },
    } as BaseEvent);
  }

  /** An event from the agent. Resolves when it is safe to produce more (backpressure). */
  write(event: BaseEvent): Promise<void> | undefined {
    if (this.closed) return undefined;
    switch (event.type) {
      case EventType.RUN_STARTED:
        // We opened the run already; the agent's own RUN_STARTED would be a second one.
        return undefined;
      case EventType.RUN_FINISHED:
        this.push({
          ...event,
          threadId: this.opts.threadId,
          runId: this.runId,
        } as BaseEvent);
        return undefined;
      default:
        this.push(event);
    }
    if (this.pending.length >= HIGH_WATER) return this.flushed();
    return undefined;
  }

  /** Closes the run successfully (if the agent did not). */
  finish(): void {
    this.end({ type: EventType.RUN_FINISHED, threadId: this.opts.threadId, runId: this.runId });
  }

  /** Closes the run as cancelled: RUN_FINISHED whose metadata says so. */
  cancel(reason: string): void {
    this.end({
      type: EventType.RUN_FINISHED,
      threadId: this.opts.threadId,
      runId: this.runId,
      metadata: { [METADATA_KEY]: { outcome: "cancelled", reason } },
    } as BaseEvent);
  }

  /** Closes the run with RUN_ERROR. */
  fail(message: string, code: string = RUN_ERROR_AGENT_FAILED): void {
    this.end({ type: EventType.RUN_ERROR, message, code } as BaseEvent);
  }

  private end(terminal: BaseEvent): void {
    if (this.closed) return;
    if (!this.tracker.runStarted) return;
    for (const e of this.tracker.closingEvents()) this.push(e);
    this.push(terminal);
  }

  private push(event: BaseEvent): void {
    this.tracker.apply(event);
    this.opts.view.apply(event);
    this.pending.push(event);
    if (!this.scheduled && !this.inFlight) {
      this.scheduled = true;
      // One tick of batching: everything an agent emits synchronously shares a transaction.
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  /** Resolves when everything written so far is committed (or the writer failed). */
  flushed(): Promise<void> {
    if (this.pending.length === 0 && !this.inFlight && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.failed) return;
    while (this.pending.length > 0 && !this.failed) {
      const batch = this.pending;
      this.pending = [];
      const update = this.opts.view.takeUpdate();
      this.inFlight = this.opts.store
        .append(this.opts.threadId, this.opts.fence, batch, update)
        .then((records) => {
          this.lastRecord = records[records.length - 1] ?? this.lastRecord;
        });
      try {
        await this.inFlight;
      } catch (error) {
        this.failed = true;
        this.pending = [];
        this.opts.onFatal(error);
      } finally {
        this.inFlight = null;
      }
    }
    if (this.pending.length === 0 || this.failed) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }
}
