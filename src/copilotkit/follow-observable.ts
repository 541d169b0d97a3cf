import type { BaseEvent } from "@ag-ui/core";
import { Observable } from "rxjs";
import type { FollowItem } from "../core/follow.js";

/** Items to emit, in order, until `nextBatch` answers null: a follow or a CopilotKit stream. */
export interface ItemStream {
  nextBatch(): Promise<FollowItem[] | null>;
  close(): void;
}

/**
 * A stream of follow items as the event Observable a CopilotKit runner returns. Unsubscribing
 * (the HTTP client went away) closes the stream — never the run it was watching.
 *
 * `open` prepares the stream; it runs once the Observable is subscribed. Null: an empty stream.
 * An error it throws is turned into `onError`'s events when given (so the client gets a valid
 * AG-UI ending), else into an error.
 */
export function followObservable(opts: {
  open: () => Promise<ItemStream | null>;
  onError?: (error: unknown) => BaseEvent[];
}): Observable<BaseEvent> {
  return new Observable<BaseEvent>((subscriber) => {
    let stream: ItemStream | undefined;
    let stopped = false;
    (async () => {
      stream = (await opts.open()) ?? undefined;
      if (!stream || stopped) {
        stream?.close();
        if (!stopped) subscriber.complete();
        return;
      }
      for (;;) {
        const batch = await stream.nextBatch();
        if (!batch || stopped) break;
        for (const item of batch) subscriber.next(item.event);
      }
      stream.close();
      subscriber.complete();
    })().catch((error: unknown) => {
      stream?.close();
      if (stopped) return;
      if (!opts.onError) {
        subscriber.error(error);
        return;
      }
      for (const event of opts.onError(error)) subscriber.next(event);
      subscriber.complete();
    });
    return () => {
      stopped = true;
      stream?.close();
    };
  });
}
