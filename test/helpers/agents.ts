import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type Interrupt, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";

/** A manually driven agent: the test pushes events and decides when the run ends or fails. */
export class GateAgent extends AbstractAgent {
  static runs: GateRun[] = [];
  static inputs: RunAgentInput[] = [];

  override run(input: RunAgentInput): Observable<BaseEvent> {
    GateAgent.inputs.push(input);
    return new Observable<BaseEvent>((sub) => {
      const run = new GateRun(input, sub);
      GateAgent.runs.push(run);
      return () => {
        run.unsubscribed = true;
      };
    });
  }

  override clone(): GateAgent {
    return new GateAgent();
  }

  static reset(): void {
    GateAgent.runs = [];
    GateAgent.inputs = [];
  }

  /** Waits (polling with a deadline) until the n-th run has started. */
  static async nth(n: number, timeoutMs = 5_000): Promise<GateRun> {
    const deadline = Date.now() + timeoutMs;
    while (!GateAgent.runs[n]) {
      if (Date.now() > deadline) throw new Error(`run #${n} did not start`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return GateAgent.runs[n]!;
  }
}

export class GateRun {
  unsubscribed = false;
  constructor(
    readonly input: RunAgentInput,
    private readonly sub: { next(e: BaseEvent): void; complete(): void; error(e: unknown): void },
  ) {}

  emit(...events: BaseEvent[]): void {
    for (const e of events) this.sub.next(e);
  }
  started(): void {
    this.emit({
      type: EventType.RUN_STARTED,
      threadId: this.input.threadId,
      runId: this.input.runId,
    } as BaseEvent);
  }
  text(messageId: string, ...deltas: string[]): void {
    this.emit({ type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" } as BaseEvent);
    for (const delta of deltas)
      this.emit({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta } as BaseEvent);
  }
  finish(): void {
    this.emit({
      type: EventType.RUN_FINISHED,
      threadId: this.input.threadId,
      runId: this.input.runId,
    } as BaseEvent);
    this.sub.complete();
  }
  complete(): void {
    this.sub.complete();
  }
  fail(message: string): void {
    this.sub.error(new Error(message));
  }
}

export { waitFor } from "./wait-for.js";

/**
 * A human-in-the-loop agent: a run without `resume` asks `interrupts` (ends with an interrupt
 * outcome); a run with `resume` says what it was answered and finishes. Records every input.
 */
export class InterruptingAgent extends AbstractAgent {
  static inputs: RunAgentInput[] = [];
  constructor(private readonly interrupts: readonly Interrupt[] = []) {
    super();
  }

  override run(input: RunAgentInput): Observable<BaseEvent> {
    InterruptingAgent.inputs.push(input);
    const { threadId, runId } = input;
    const messageId = `${runId}-reply`;
    const resumed = input.resume !== undefined && input.resume.length > 0;
    const text = resumed ? `resumed: ${JSON.stringify(input.resume)}` : "may I?";
    return new Observable<BaseEvent>((sub) => {
      for (const e of [
        { type: EventType.RUN_STARTED, threadId, runId },
        { type: EventType.TEXT_MESSAGE_START, messageId, role: "assistant" },
        { type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: text },
        { type: EventType.TEXT_MESSAGE_END, messageId },
        {
          type: EventType.RUN_FINISHED,
          threadId,
          runId,
          ...(resumed || this.interrupts.length === 0
            ? {}
            : { outcome: { type: "interrupt", interrupts: this.interrupts } }),
        },
      ] as BaseEvent[])
        sub.next(e);
      sub.complete();
    });
  }

  override clone(): InterruptingAgent {
    return new InterruptingAgent(this.interrupts);
  }
}
