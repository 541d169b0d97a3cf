import { type BaseEvent, EventType, type Message, type RunAgentInput } from "@ag-ui/core";
import { METADATA_KEY, RUN_ERROR_AGENT_FAILED, RUN_ERROR_INCOMPLETE_STREAM } from "../protocol.js";
import { serialiseEvent, withJson } from "./append-plan.js";
import { runStartedEvent } from "./run-start.js";
import { type RunEnding, RunTracker } from "./run-tracker.js";
import type { ThreadStore } from "./store.js";
import type { RunSpan } from "./tracing.js";
import { TurnBudget } from "./turn-budget.js";
import type { EventRecord, Fence, RunTrigger } from "./types.js";
import type { ViewBuilder } from "./view.js";

/** Pending events above which the agent is paused until a commit lands (backpressure). */
const HIGH_WATER = 2_000;
/** Synchronous work a run's events may take per turn of the event loop (see `TurnBudget`). */
const TURN_BUDGET_MS = 10;

export interface RunWriterOptions {
  store: ThreadStore;
  threadId: string;
  fence: Fence;
  view: ViewBuilder;
  /** Called once when an append fails (lease lost, store down): the run must stop. */
  onFatal: (error: unknown) => void;
  /**
   * Called once when the agent emitted an event JSON cannot hold (the run is closed as failed
   * with RUN_ERROR `AGENT_ERROR` already): the agent must stop.
   */
  onAgentFault?: (error: unknown) => void;
  /** Per-turn budget of the run's events (default `TURN_BUDGET_MS`; tests pass a clock). */
  turns?: TurnBudget;
  /** The run's span: each append is a child span of it. */
  span?: RunSpan;
  /**
   * What the run wrote so far, for a writer that takes over a run from its stored log (recovery:
   * `trackStoredRun`). Default: a run this writer starts.
   */
  tracker?: RunTracker;
}

/**
 * Turns one run's agent events into committed log entries.
 * - Normalises the stream: exactly one RUN_STARTED (ours, with provenance), nothing after the
 *   terminal event, every open construct closed before any terminal event, and (CopilotKit's
 *   finalization contract) a TOOL_CALL_RESULT for every tool call a run that did not finish by
 *   itself left unanswered. An agent's own RUN_STARTED adds what its `input` brings (see
 *   `adoptInput`).
 * - Group commit: everything written within one tick goes into one `append`; appends of a run
 *   are strictly sequential, so order is preserved without locks.
 * - Each event is serialised once, when it is written, and the batch carries that JSON into the
 *   append plan. An agent's event JSON cannot hold (a BigInt, a cycle, not an object) is the
 *   agent's fault, not the store's: it is dropped, what the agent wrote before it is kept, and
 *   the run ends `failed` with RUN_ERROR `AGENT_ERROR`.
 */
export class RunWriter {
  readonly tracker: RunTracker;
  /** Bounds (and measures) how long this run's events keep the event loop per turn. */
  readonly turns: TurnBudget;
  private pending: BaseEvent[] = [];
  /** `pending`'s JSON texts (`undefined` for one of ours JSON cannot hold: the plan then fails). */
  private pendingJson: Array<string | undefined> = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  private failed = false;
  private lastRecord: EventRecord | undefined;
  /** Events this writer put into the run's log (its own included). */
  eventsWritten = 0;

  constructor(private readonly opts: RunWriterOptions) {
    this.turns = opts.turns ?? new TurnBudget(TURN_BUDGET_MS);
    this.tracker = opts.tracker ?? new RunTracker();
  }

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
    this.push(
      runStartedEvent(
        { ...input, threadId: this.opts.threadId, runId: this.runId },
        trigger,
        agentId,
      ),
    );
  }

  /** An event from the agent. Resolves when it is safe to produce more (backpressure). */
  write(event: BaseEvent): Promise<void> | undefined {
    if (this.closed) return undefined;
    switch (event.type) {
      case EventType.RUN_STARTED:
        // We opened the run already; the agent's own RUN_STARTED would be a second one.
        this.adoptInput((event as { input?: Partial<RunAgentInput> }).input);
        break;
      case EventType.RUN_FINISHED: {
        const finished = { ...event, threadId: this.opts.threadId, runId: this.runId } as BaseEvent;
        const json = this.agentJson(finished);
        if (json !== undefined) this.end(finished, { kind: "finished" }, json);
        return undefined;
      }
      case EventType.RUN_ERROR: {
        const json = this.agentJson(event);
        if (json === undefined) return undefined;
        const e = event as { code?: string; message?: string };
        this.end(
          event,
          {
            kind: "error",
            code: e.code ?? RUN_ERROR_AGENT_FAILED,
            message: e.message ?? "the agent reported an error",
          },
          json,
        );
        return undefined;
      }
      default: {
        const json = this.agentJson(event);
        if (json === undefined) return undefined;
        this.push(event, json);
      }
    }
    if (this.pending.length >= HIGH_WATER) return this.flushed();
    return this.turns.spend();
  }

  /**
   * The agent's stream is over. Without its own terminal event that is no success: the run ends
   * with RUN_ERROR `INCOMPLETE_STREAM` (status `failed`), as CopilotKit's runners end it.
   */
  endOfStream(): void {
    this.fail(
      "the agent's event stream ended without RUN_FINISHED or RUN_ERROR",
      RUN_ERROR_INCOMPLETE_STREAM,
    );
  }

  /** Closes the run as cancelled: RUN_FINISHED whose metadata says so. */
  cancel(reason: string): void {
    this.end(
      {
        type: EventType.RUN_FINISHED,
        threadId: this.opts.threadId,
        runId: this.runId,
        metadata: { [METADATA_KEY]: { outcome: "cancelled", reason } },
      } as BaseEvent,
      { kind: "stopped" },
    );
  }

  /** Closes the run with RUN_ERROR. */
  fail(message: string, code: string = RUN_ERROR_AGENT_FAILED): void {
    this.end({ type: EventType.RUN_ERROR, message, code } as BaseEvent, {
      kind: "error",
      code,
      message,
    });
  }

  /**
   * Ends a taken-over run (recovery): END events for whatever it left open, then `terminal`.
   * Unlike an agent's end, no RUN_STARTED of its own is needed (it may be in the stored log).
   */
  close(terminal: BaseEvent, ending: RunEnding, json?: string): void {
    if (this.closed) return;
    for (const e of this.tracker.closingEvents(ending)) this.push(e);
    this.push(terminal, json);
  }

  /** The run's own end: only once its RUN_STARTED is in (nothing to end before). */
  private end(terminal: BaseEvent, ending: RunEnding, json?: string): void {
    if (this.tracker.runStarted) this.close(terminal, ending, json);
  }

  /**
   * An agent's event as JSON; `undefined` when JSON cannot hold it: the agent's fault, so the
   * run fails here (the event is not applied, what came before it stays) and the agent stops.
   */
  private agentJson(event: unknown): string | undefined {
    try {
      return serialiseEvent(event);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.fail(`the agent emitted an event that cannot be stored: ${why}`, RUN_ERROR_AGENT_FAILED);
      this.opts.onAgentFault?.(error);
      return undefined;
    }
  }

  /**
   * An agent's RUN_STARTED may carry the input it ran with. What that adds to the thread is kept:
   * messages the thread has not seen (as one MESSAGES_SNAPSHOT of the thread with them, since a
   * run has only one RUN_STARTED — ours) and a state other than the one the run was given (a STATE_SNAPSHOT).
   * Echoing the input it was given adds nothing. Activity messages are UI-only and skipped.
   */
  private adoptInput(input: Partial<RunAgentInput> | undefined): void {
    if (!input || typeof input !== "object") return;
    const { view } = this.opts;
    const fresh = (Array.isArray(input.messages) ? input.messages : []).filter(
      (m: Message) => m && typeof m.id === "string" && m.role !== "activity" && !view.has(m.id),
    );
    if (fresh.length > 0) {
      const snapshot = {
        type: EventType.MESSAGES_SNAPSHOT,
        messages: [...view.getMessages(), ...fresh],
      } as BaseEvent;
      const json = this.agentJson(snapshot);
      if (json === undefined) return;
      this.push(snapshot, json);
    }
    const given = (this.tracker.runStarted as { input?: RunAgentInput } | undefined)?.input?.state;
    if (input.state === undefined) return;
    const snapshot = { type: EventType.STATE_SNAPSHOT, snapshot: input.state } as BaseEvent;
    const json = this.agentJson(snapshot);
    if (json === undefined) return;
    if (json !== JSON.stringify({ type: EventType.STATE_SNAPSHOT, snapshot: given })) {
      this.push(snapshot, json);
    }
  }

  /** `json`: the event's JSON, when the caller has it already (an agent's event). */
  private push(event: BaseEvent, json: string | undefined = ownJson(event)): void {
    this.eventsWritten++;
    this.tracker.apply(event);
    this.opts.view.apply(event);
    this.pending.push(event);
    this.pendingJson.push(json);
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
      const batch = withJson(this.pending, this.pendingJson);
      this.pending = [];
      this.pendingJson = [];
      const update = this.opts.view.takeUpdate();
      const span = this.opts.span?.child("threadline.store.append", {
        "threadline.events": batch.length,
      });
      this.inFlight = this.opts.store.threads
        .append(this.opts.threadId, this.opts.fence, batch, update)
        .then(
          (records) => {
            span?.end();
            this.lastRecord = records[records.length - 1] ?? this.lastRecord;
          },
          (error: unknown) => {
            span?.end({ error: error instanceof Error ? error.message : String(error) });
            throw error;
          },
        );
      try {
        await this.inFlight;
      } catch (error) {
        this.failed = true;
        this.pending = [];
        this.pendingJson = [];
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

/**
 * Our own event's JSON. One JSON cannot hold (a caller's run input with a BigInt, say) is left
 * to the append plan, which refuses the batch (VALIDATION_FAILED), as for any store caller.
 */
function ownJson(event: BaseEvent): string | undefined {
  try {
    return serialiseEvent(event);
  } catch {
    return undefined;
  }
}
