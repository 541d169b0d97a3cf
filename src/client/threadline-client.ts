import type { Context, Message, ResumeEntry, Tool } from "@ag-ui/core";
import type {
  MultitaskStrategy,
  RunRecord,
  RunStatus,
  ThreadSummary,
  ThreadView,
} from "../core/types.js";
import type { BackoffOptions } from "./backoff.js";
import { type FollowThreadOptions, followThread, type ThreadEvent } from "./follow-thread.js";
import {
  defaultFetch,
  enc,
  type FetchLike,
  type HeadersSource,
  joinUrl,
  requestJson,
  resolveHeaders,
} from "./http.js";

export interface ThreadlineClientOptions {
  /** Server base URL, e.g. `http://localhost:8787` (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: HeadersSource;
  fetch?: FetchLike;
  /** Reconnect timing of `follow()`. */
  backoff?: BackoffOptions;
}

export interface StartRunBody {
  agentId: string;
  runId?: string;
  messages?: Message[];
  state?: unknown;
  forwardedProps?: unknown;
  tools?: Tool[];
  context?: Context[];
  multitask?: MultitaskStrategy;
  /** `client` for a person at a UI (recorded as the run's provenance); default `api`. */
  trigger?: { kind: "client" | "api"; source?: string };
  /** Answers to the thread's pending interrupts (PROTOCOL.md §3.1). */
  resume?: ResumeEntry[];
}

export interface StartRunResponse {
  runId: string;
  threadId: string;
  status: RunStatus;
  /** The run this one interrupted (multitask `interrupt`). */
  interrupted?: string;
}

/** `GET /threads/:id`: the materialized view plus the active run. */
export interface ThreadDetails extends ThreadView {
  activeRun: RunRecord | null;
}

/** A small client of Threadline's native HTTP API. Errors are rebuilt as ThreadlineError. */
export class ThreadlineClient {
  readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly headers: HeadersSource | undefined;
  private readonly token: string | undefined;
  private readonly backoff: BackoffOptions | undefined;

  constructor(opts: ThreadlineClientOptions) {
    this.baseUrl = opts.baseUrl;
    this.fetchFn = opts.fetch ?? defaultFetch;
    this.headers = opts.headers;
    this.token = opts.token;
    this.backoff = opts.backoff;
  }

  /** The headers of every request (read again each time: tokens may rotate). */
  async requestHeaders(): Promise<Record<string, string>> {
    const headers = await resolveHeaders(this.headers);
    return this.token ? { ...headers, authorization: `Bearer ${this.token}` } : headers;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return requestJson<T>(this.fetchFn, joinUrl(this.baseUrl, path), {
      method,
      body,
      headers: await this.requestHeaders(),
    });
  }

  createThread(
    body: { threadId?: string; metadata?: Record<string, unknown> } = {},
  ): Promise<ThreadSummary> {
    return this.call("POST", "/threads", body);
  }

  async listThreads(opts: { limit?: number; offset?: number } = {}): Promise<ThreadSummary[]> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set("limit", String(opts.limit));
    if (opts.offset !== undefined) q.set("offset", String(opts.offset));
    const qs = q.toString();
    const res = await this.call<{ threads: ThreadSummary[] }>(
      "GET",
      `/threads${qs ? `?${qs}` : ""}`,
    );
    return res.threads;
  }

  getThread(threadId: string): Promise<ThreadDetails> {
    return this.call("GET", `/threads/${enc(threadId)}`);
  }

  startRun(threadId: string, body: StartRunBody): Promise<StartRunResponse> {
    return this.call("POST", `/threads/${enc(threadId)}/runs`, body);
  }

  cancelRun(threadId: string, runId: string): Promise<RunRecord> {
    return this.call("POST", `/threads/${enc(threadId)}/runs/${enc(runId)}/cancel`);
  }

  /**
   * A signed, short-lived URL of the thread's follow stream (`POST /threads/:id/follow-url`),
   * for an `EventSource`, which cannot send this client's credentials: `new EventSource(url)`.
   */
  followUrl(threadId: string): Promise<{ url: string; path: string; expiresAt: number }> {
    return this.call("POST", `/threads/${enc(threadId)}/follow-url`);
  }

  /** `followThread` with this client's base URL, credentials, fetch and backoff. */
  follow(
    threadId: string,
    opts: Omit<FollowThreadOptions, "headers" | "fetch"> = {},
  ): AsyncGenerator<ThreadEvent, void, undefined> {
    return followThread(this.baseUrl, threadId, {
      ...(this.backoff ? { backoff: this.backoff } : {}),
      ...opts,
      headers: () => this.requestHeaders(),
      fetch: this.fetchFn,
    });
  }
}
