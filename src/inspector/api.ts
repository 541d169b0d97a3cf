import type { BaseEvent } from "@ag-ui/core";
import {
  type FollowThreadOptions,
  followThread,
  type ThreadEvent,
} from "../client/follow-thread.js";
import { readSseFrames } from "../client/sse-parser.js";
import { ThreadlineClient } from "../client/threadline-client.js";
import { ThreadlineError } from "../core/errors.js";
import type { ScheduleRecord } from "../core/scheduler/schedule-types.js";
import type { RunRecord, ThreadSummary } from "../core/types.js";

const TOKEN_KEY = "threadline.inspector.token";

export type { ScheduleRecord };

/** A list page as the API answers it: `{ <name>: items, next? }`. */
export type Page<K extends string, T> = { [key in K]: T[] } & { next?: number };

/** A query string from the defined, non-empty options. */
function query(opts: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(opts)) if (v !== undefined && v !== "") q.set(k, String(v));
  return q.toString();
}

/** A fetch that never reached the server (it is down, restarting, or the network is gone). */
export const NETWORK_ERROR = "NETWORK_ERROR";

function sessionGet(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}

/**
 * The inspector's access to the server: `threadline/client` for threads, runs and follows, a
 * few plain JSON calls for the rest (schedules, run lists, agents). It holds the bearer token for
 * the browser session and tells the page when the server asks for one (401).
 */
export class Api {
  readonly client: ThreadlineClient;
  private memoryToken: string | null = sessionGet();
  private readonly authListeners = new Set<(error: ThreadlineError) => void>();

  constructor(readonly baseUrl: string) {
    this.client = new ThreadlineClient({ baseUrl, headers: () => this.headers() });
  }

  get token(): string | null {
    return this.memoryToken;
  }

  setToken(token: string | null): void {
    this.memoryToken = token;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage disabled: keep it in memory only
    }
  }

  headers(token = this.memoryToken): Record<string, string> {
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** Called whenever a request is refused for want of a (valid) token. */
  onAuthRequired(listener: (error: ThreadlineError) => void): void {
    this.authListeners.add(listener);
  }

  /** Rethrows `error` as a ThreadlineError, telling listeners about a 401 first. */
  fail(error: unknown): never {
    const e = ThreadlineError.is(error)
      ? error
      : new ThreadlineError(NETWORK_ERROR, "cannot reach the Threadline server", {
          status: 0,
          cause: error,
        });
    if (e.status === 401) for (const listener of this.authListeners) listener(e);
    throw e;
  }

  async call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    try {
      const response = await fetch(`${this.baseUrl.replace(/\/+$/, "")}${path}`, {
        method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...this.headers(token ?? this.memoryToken),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw await ThreadlineError.fromResponse(response);
      return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
    } catch (error) {
      return this.fail(error);
    }
  }

  private async guard<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      return this.fail(error);
    }
  }

  /** Resolves when `token` is accepted (the server may also need none). */
  async verify(token: string): Promise<void> {
    await this.call("GET", "/threads?limit=1", undefined, token);
  }

  /** A page of threads, most recently active first; `q` searches ids and metadata. */
  listThreads(opts: {
    limit: number;
    offset: number;
    q?: string;
  }): Promise<Page<"threads", ThreadSummary>> {
    return this.call("GET", `/threads?${query(opts)}`);
  }

  createThread(): Promise<ThreadSummary> {
    return this.guard(this.client.createThread({ metadata: { createdBy: "inspector" } }));
  }

  /** A page of the thread's runs, newest first, optionally filtered by status and trigger. */
  listRuns(
    threadId: string,
    opts: { limit: number; offset?: number; status?: string; trigger?: string },
  ): Promise<Page<"runs", RunRecord>> {
    return this.call("GET", `/threads/${encodeURIComponent(threadId)}/runs?${query(opts)}`);
  }

  getRun(threadId: string, runId: string): Promise<RunRecord> {
    return this.call(
      "GET",
      `/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}`,
    );
  }

  /** Sends a user message to the thread's agent; queued behind a run in progress. */
  sendMessage(threadId: string, agentId: string, id: string, content: string) {
    return this.guard(
      this.client.startRun(threadId, {
        agentId,
        multitask: "enqueue",
        trigger: { kind: "client", source: "inspector" },
        messages: [{ id, role: "user", content }],
      }),
    );
  }

  /**
   * Answers a pending interrupt (`POST /threads/:id/interrupts/:interruptId`, PROTOCOL.md
   * §3.1.5): starts the resume run; `resume` answers the thread's other pending interrupts.
   */
  resolveInterrupt(
    threadId: string,
    interruptId: string,
    body: {
      status: "resolved" | "cancelled";
      payload?: unknown;
      resume?: { interruptId: string; status: "resolved" | "cancelled"; payload?: unknown }[];
    },
  ): Promise<{ runId: string; threadId: string; status: string }> {
    return this.call(
      "POST",
      `/threads/${encodeURIComponent(threadId)}/interrupts/${encodeURIComponent(interruptId)}`,
      body,
    );
  }

  cancelRun(threadId: string, runId: string): Promise<RunRecord> {
    return this.guard(this.client.cancelRun(threadId, runId));
  }

  async agents(): Promise<string[]> {
    const info = await this.call<{ agents?: Record<string, unknown> }>("GET", "/info");
    return Object.keys(info.agents ?? {});
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return (await this.call<{ schedules: ScheduleRecord[] }>("GET", "/schedules")).schedules;
  }

  createSchedule(body: Record<string, unknown>): Promise<ScheduleRecord> {
    return this.call("POST", "/schedules", body);
  }

  updateSchedule(id: string, patch: Record<string, unknown>): Promise<ScheduleRecord> {
    return this.call("PATCH", `/schedules/${encodeURIComponent(id)}`, patch);
  }

  deleteSchedule(id: string): Promise<void> {
    return this.call("DELETE", `/schedules/${encodeURIComponent(id)}`);
  }

  /**
   * Stored events after `after`: a finite read of the log (`follow=false`) that ends at seq
   * `until`, after `max` events, or with the first event `stop` accepts (included).
   */
  async readEvents(
    threadId: string,
    opts: {
      after: number;
      until?: number;
      max?: number;
      stop?: (event: BaseEvent) => boolean;
      signal?: AbortSignal;
    },
  ): Promise<{ seq: number; event: BaseEvent }[]> {
    const { after, until = Number.POSITIVE_INFINITY, max = Number.POSITIVE_INFINITY } = opts;
    const { signal } = opts;
    const events: { seq: number; event: BaseEvent }[] = [];
    const query = `after=${after}&replay=full&follow=false`;
    try {
      const response = await fetch(
        `${this.baseUrl.replace(/\/+$/, "")}/threads/${encodeURIComponent(threadId)}/events?${query}`,
        {
          headers: { accept: "text/event-stream", ...this.headers() },
          ...(signal ? { signal } : {}),
        },
      );
      if (!response.ok || !response.body) throw await ThreadlineError.fromResponse(response);
      for await (const frame of readSseFrames(response.body, signal)) {
        if (frame.data === undefined || frame.id === undefined) continue;
        const seq = Number(frame.id);
        if (seq > until) break;
        const event = JSON.parse(frame.data) as BaseEvent;
        events.push({ seq, event });
        if (seq === until || events.length >= max || opts.stop?.(event)) break;
      }
    } catch (error) {
      if (signal?.aborted) return events;
      return this.fail(error);
    }
    return events;
  }

  /** `followThread` with this page's base URL and token (read again on every reconnect). */
  follow(
    threadId: string,
    opts: Omit<FollowThreadOptions, "headers">,
  ): AsyncGenerator<ThreadEvent, void, undefined> {
    return followThread(this.baseUrl, threadId, { ...opts, headers: () => this.headers() });
  }
}
