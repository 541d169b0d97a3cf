import type { AgentSubscriber } from "@ag-ui/client";
import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { lastValueFrom, type Observable, Subject } from "rxjs";

export const isTerminal = (e: BaseEvent): boolean =>
  e.type === EventType.RUN_FINISHED || e.type === EventType.RUN_ERROR;

export interface RunSessionOptions {
  runId: string;
  input: RunAgentInput;
  subscribers: AgentSubscriber[];
  /** The compact replay's summary run: applied like a run, but nothing is running. */
  synthetic: boolean;
  /** Builds the apply pipeline (the agent's own `apply` + `processApplyEvents`). */
  build: (events$: Observable<BaseEvent>, subscribers: AgentSubscriber[]) => Observable<unknown>;
}

/**
 * One run of the followed thread being applied to the agent. Its events are fed one by one
 * into the same pipeline `AbstractAgent.runAgent` uses (`defaultApplyEvents` and subscriber
 * notifications), so message folding and callbacks are @ag-ui/client's own, not a copy.
 */
export class RunSession {
  readonly runId: string;
  readonly input: RunAgentInput;
  readonly synthetic: boolean;
  readonly subscribers: AgentSubscriber[];
  /** RUN_FINISHED's `result` when the run succeeded. */
  result: unknown;
  private readonly events = new Subject<BaseEvent>();
  private readonly done: Promise<unknown>;

  constructor(opts: RunSessionOptions) {
    this.runId = opts.runId;
    this.input = opts.input;
    this.synthetic = opts.synthetic;
    this.subscribers = [
      {
        onRunFinishedEvent: (params) => {
          if (params.outcome === "success") this.result = params.result;
        },
      },
      ...opts.subscribers,
    ];
    // Subscribed now; a failure (a subscriber that threw) is kept for end() instead of
    // becoming an unhandled rejection.
    this.done = lastValueFrom(opts.build(this.events.asObservable(), this.subscribers), {
      defaultValue: undefined,
    }).then(
      () => undefined,
      (error: unknown) => error ?? new Error("run pipeline failed"),
    );
  }

  push(event: BaseEvent): void {
    this.events.next(event);
  }

  /** Completes the run and waits until every event is applied; returns the pipeline's error. */
  async end(): Promise<unknown> {
    this.events.complete();
    return this.done;
  }
}
