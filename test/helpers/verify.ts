import { verifyEvents as verify059 } from "@ag-ui/client";
import type { BaseEvent } from "@ag-ui/core";
import { verifyEvents as verify1 } from "ag-ui-client-v1";
import { from, lastValueFrom, toArray } from "rxjs";

/**
 * Runs events through the real `@ag-ui/client` verifiers, 0.0.59 (CopilotKit's pin) and 1.0.
 * Rejects with the verifier's own error when the stream is invalid AG-UI.
 */
export async function verifyWithAgUi(events: BaseEvent[]): Promise<void> {
  await lastValueFrom(from(events).pipe(verify059(false), toArray()), { defaultValue: [] });
  await lastValueFrom(from(events as never[]).pipe(verify1(false) as never, toArray()), {
    defaultValue: [],
  });
}
