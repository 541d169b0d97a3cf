import { AbstractAgent, type AgentSubscriber } from "@ag-ui/client";
import type { BaseEvent, RunAgentInput } from "@ag-ui/core";
import { concatMap, Observable } from "rxjs";
import { pace } from "./pacer.js";
import { runFinished, runStarted, scriptedRun, textContent, textEnd, textStart } from "./script.js";

/** Per-run parameters, read from `forwardedProps.bench`. */
export interface BenchScript {
  /** Events in the run, RUN_STARTED and RUN_FINISHED included. Default 200. */
  events?: number;
  /** Tokens per second; absent = as fast as possible (all events synchronously). */
  rate?: number;
}

function scriptOf(input: RunAgentInput): Required<Pick<BenchScript, "events">> & BenchScript {
  const s = ((input.forwardedProps as { bench?: BenchScript } | undefined)?.bench ??
    {}) as BenchScript;
  return { ...s, events: Math.max(4, s.events ?? 200) };
}

/**
 * The scripted agent every subject runs (see script.ts). Without a rate it emits the whole run
 * synchronously — the most a runtime can be asked to absorb; with a rate it streams tokens
 * stamped with their production time (the latency probe). A run with a rate and
 * `events: Infinity`-like sizes works as a ticker that only ends when the run is stopped.
 */
export class ScriptedAgent extends AbstractAgent {
  override run(input: RunAgentInput): Observable<BaseEvent> {
    const script = scriptOf(input);
    const { threadId, runId } = input;
    if (script.rate === undefined) {
      return new Observable<BaseEvent>((sub) => {
        for (const e of scriptedRun(threadId, runId, script.events)) sub.next(e);
        sub.complete();
      });
    }
    const rate = script.rate;
    return new Observable<BaseEvent>((sub) => {
      const messageId = `msg-${runId}`;
      sub.next(runStarted(threadId, runId));
      sub.next(textStart(messageId));
      const stop = pace(
        rate,
        script.events - 4,
        (i, ts) => sub.next(textContent(messageId, i, ts)),
        () => {
          sub.next(textEnd(messageId));
          sub.next(runFinished(threadId, runId));
          sub.complete();
        },
      );
      return stop;
    });
  }

  override clone(): ScriptedAgent {
    return new ScriptedAgent();
  }
}

/**
 * An experiment, not a subject: the scripted agent with `@ag-ui/client`'s event application
 * replaced by a plain hand-off to subscribers. The stock `defaultApplyEvents` clones the whole
 * message list on every event that touches a message (O(thread length) per event); this shows
 * what a runtime that keeps its own view (as Threadline's coordinator does) would gain by not
 * using it. `agent.messages` is not updated during the run.
 */
export class LeanApplyAgent extends ScriptedAgent {
  protected override apply(
    input: RunAgentInput,
    events$: Observable<BaseEvent>,
    subscribers: AgentSubscriber[],
  ) {
    return events$.pipe(
      concatMap(async (event) => {
        for (const s of subscribers) {
          await s.onEvent?.({
            event,
            agent: this,
            input,
            messages: this.messages,
            state: this.state,
          });
        }
        return {};
      }),
    );
  }

  override clone(): LeanApplyAgent {
    return new LeanApplyAgent();
  }
}
