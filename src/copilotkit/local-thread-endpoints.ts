import type { BaseEvent, Message } from "@ag-ui/core";
import type { LocalThreadEndpointRecord } from "@copilotkit/runtime/v2";
import { threadRecord } from "../copilotkit-surface/thread-records.js";
import type { Logger } from "../core/logger.js";
import type { ThreadStore, Unsubscribe } from "../core/store.js";
import type { ThreadView } from "../core/types.js";

/** Threads the list mirror keeps (the most recently updated). */
const LIST_SIZE = 200;
/** Threads whose messages and state are kept ready (the most recently updated first). */
const VIEW_SIZE = 20;
const REFRESH_DEBOUNCE_MS = 50;

/**
 * What CopilotKit's `LocalThreadEndpointRunner` interface needs, for a plain `CopilotRuntime`
 * (without `withThreadline`): its `/threads` handlers call the runner **synchronously**, and a
 * Threadline store answers asynchronously, so they are answered from a mirror. The mirror holds
 * the 200 most recently updated threads and the messages and state of the 20 most recent, and is
 * refreshed whenever a run starts (any instance: the store's run-start signal) and after every
 * call (so the next one sees what changed meanwhile, e.g. a reply). A thread outside it answers
 * empty the first time and is loaded for the next call.
 * `withThreadline` reads the store directly instead, with paging and mutations.
 */
export class LocalThreadMirror {
  private list: LocalThreadEndpointRecord[] = [];
  private readonly views = new Map<string, ThreadView>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private readonly off: Unsubscribe;

  constructor(
    private readonly store: ThreadStore,
    ready: Promise<void>,
    private readonly logger?: Logger,
  ) {
    this.off = store.threads.subscribeRunStarts(() => this.changed());
    ready.then(
      () => this.changed(),
      () => undefined,
    );
  }

  /** Something changed (a run started or ended): refresh soon, coalescing bursts. */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_DEBOUNCE_MS);
    this.timer.unref();
  }

  /** Reloads the list and the ready views; resolves when done (for tests and shutdown). */
  async refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          const summaries = await this.store.threads.list({ limit: LIST_SIZE });
          const records = await Promise.all(summaries.map((s) => threadRecord(this.store, s)));
          this.list = records.flatMap((r) => (r ? [r] : []));
          const keep = this.list.slice(0, VIEW_SIZE).map((r) => r.id);
          for (const id of new Set([...keep, ...this.views.keys()])) await this.load(id);
          for (const id of [...this.views.keys()]) {
            if (this.views.size <= VIEW_SIZE) break;
            if (!keep.includes(id)) this.views.delete(id);
          }
        } catch (error) {
          this.logger?.warn({ err: error }, "refreshing the local thread mirror failed");
        }
      } while (this.again);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  listThreads(): LocalThreadEndpointRecord[] {
    this.changed();
    return this.list.map((r) => ({ ...r }));
  }

  getThreadMessages(threadId: string): Message[] {
    return [...(this.view(threadId)?.messages ?? [])];
  }

  getThreadState(threadId: string): Record<string, unknown> | null {
    const state = this.view(threadId)?.state;
    return state && typeof state === "object" && !Array.isArray(state)
      ? { ...(state as Record<string, unknown>) }
      : null;
  }

  /** The thread compacted into one valid AG-UI run (as CopilotKit's own runner answers). */
  getThreadEvents(threadId: string): BaseEvent[] {
    const view = this.view(threadId);
    if (!view || view.lastSeq === 0) return [];
    const runId = `threadline-snapshot-${view.lastSeq}`;
    return [
      { type: "RUN_STARTED", threadId, runId },
      { type: "MESSAGES_SNAPSHOT", messages: view.messages },
      { type: "STATE_SNAPSHOT", snapshot: view.state ?? {} },
      { type: "RUN_FINISHED", threadId, runId },
    ] as BaseEvent[];
  }

  close(): void {
    this.off();
    if (this.timer) clearTimeout(this.timer);
  }

  private view(threadId: string): ThreadView | undefined {
    const v = this.views.get(threadId);
    if (v) this.changed();
    else void this.load(threadId);
    return v;
  }

  private async load(threadId: string): Promise<void> {
    try {
      const v = await this.store.threads.get(threadId);
      if (v) this.views.set(threadId, v);
      else this.views.delete(threadId);
    } catch (error) {
      this.logger?.debug({ err: error, threadId }, "loading a thread into the mirror failed");
    }
  }
}
