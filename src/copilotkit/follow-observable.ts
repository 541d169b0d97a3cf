import type { BaseEvent } from "@ag-ui/core";
import { Observable } from "rxjs";
import type { Follow, FollowItem } from "../core/follow.js";

/** What to do with one item of a follow. */
export type ItemVerdict = "emit" | "skip" | "emit-and-end" | "end";

/**
 * A follow as the event Observable a CopilotKit runner returns. `decide` picks what each item
 * does; the stream also ends when the follow does. Unsubscribing (the HTTP client went away)
 * closes the follow — never the run it was watching.
 *
 * `open` prepares the follow (and may do work that must happen after attaching, such as starting
 * a run); it runs once the Observable is subscribed. An error it throws is turned into
 * `onError`'s events when given (so the client gets a valid AG-UI ending), else into an error.
 */
export function followObservable(opts: {
  open: () => Promise<{ follow: Follow; decide: (item: FollowItem) => ItemVerdict } | null>;
  onError?: (error: unknown) => BaseEvent[];
}): Observable<BaseEvent> {
  return new Observable<BaseEvent>((subscriber) => {
    let follow: Follow | undefined;
    let stopped = false;
    (async () => {
      const opened = await opts.open();
      if (!opened) {
        subscriber.complete();
        return;
      }
      follow = opened.follow;
      if (stopped) {
        follow.close();
        return;
      }
      for (;;) {
        const batch = await follow.nextBatch();
        if (!batch || stopped) break;
        for (const item of batch) {
          const verdict = opened.decide(item);
          if (verdict === "emit" || verdict === "emit-and-end") subscriber.next(item.event);
          if (verdict === "emit-and-end" || verdict === "end") {
            follow.close();
            subscriber.complete();
            return;
          }
        }
      }
      follow.close();
      subscriber.complete();
    })().catch((error: unknown) => {
      follow?.close();
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
      follow?.close();
    };
  });
}
