import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";

/**
 * The agent of a run that only records (see `recordsOnly`): RUN_STARTED, RUN_FINISHED, nothing
 * else — the resume in Threadline's RUN_STARTED is the record.
 */
export class RecordingAgent extends AbstractAgent {
  override run(input: RunAgentInput): Observable<BaseEvent> {
    return new Observable<BaseEvent>((sub) => {
      const ids = { threadId: input.threadId, runId: input.runId };
      sub.next({ type: EventType.RUN_STARTED, ...ids } as BaseEvent);
      sub.next({ type: EventType.RUN_FINISHED, ...ids } as BaseEvent);
      sub.complete();
    });
  }
}
