import type { BaseEvent, RunAgentInput, RunStartedEvent } from "@ag-ui/core";
import { EventType } from "@ag-ui/core";
import { Observable } from "rxjs";
import type { MultitaskStrategy } from "../core/types.js";
import { isTerminal } from "./run-session.js";
import type { ThreadlineClient } from "./threadline-client.js";

/**
 * One run as a plain AG-UI event stream: follows the thread from now on, starts the run once
 * the follow is attached (so nothing of it can be missed), and emits that run's events until
 * its terminal event. Unsubscribing stops watching; the run itself goes on on the server.
 */
export function runOnServer(
  client: ThreadlineClient,
  agentId: string,
  input: RunAgentInput,
  multitask: MultitaskStrategy,
): Observable<BaseEvent> {
  return new Observable<BaseEvent>((sub) => {
    const controller = new AbortController();
    const go = async () => {
      await client.createThread({ threadId: input.threadId });
      let started = false;
      const items = client.follow(input.threadId, {
        replay: "none",
        signal: controller.signal,
        onStatus: (s) => {
          if (s.state !== "open" || started) return;
          started = true;
          client
            .startRun(input.threadId, {
              agentId,
              runId: input.runId,
              messages: input.messages,
              tools: input.tools,
              context: input.context,
              forwardedProps: input.forwardedProps,
              multitask,
            })
            .catch((error: unknown) => {
              sub.error(error);
              controller.abort();
            });
        },
      });
      let mine = false;
      for await (const item of items) {
        if (item.event.type === EventType.RUN_STARTED) {
          mine = (item.event as RunStartedEvent).runId === input.runId;
        }
        if (!mine || item.kind === "snapshot") continue;
        sub.next(item.event);
        if (isTerminal(item.event)) {
          sub.complete();
          return;
        }
      }
    };
    go()
      .catch((error: unknown) => sub.error(error))
      .finally(() => controller.abort());
    return () => controller.abort();
  });
}
