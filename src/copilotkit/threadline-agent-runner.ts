import { type BaseEvent, EventType, type Message } from "@ag-ui/core";
import {
  AgentRunner,
  type AgentRunnerConnectRequest,
  type AgentRunnerIsRunningRequest,
  type AgentRunnerRunRequest,
  type AgentRunnerStopRequest,
  type LocalThreadEndpointRecord,
  type LocalThreadEndpointRunner,
} from "@copilotkit/runtime/v2";
import type { Observable } from "rxjs";
import { type AgentSource, Coordinator } from "../core/coordinator.js";
import {
  busyState,
  type CopilotDeps,
  openConnectStream,
  openRunStream,
  startClientRun,
  stopRun,
} from "../core/copilotkit/policy.js";
import { connectRequest, runMultitask } from "../core/copilotkit/requests.js";
import { ThreadlineError } from "../core/errors.js";
import { FanOut } from "../core/fanout.js";
import { Follow, type FollowOptions } from "../core/follow.js";
import type { Logger } from "../core/logger.js";
import type { ThreadStore } from "../core/store.js";
import type { MultitaskStrategy } from "../core/types.js";
import type { Threadline } from "../threadline.js";
import { followObservable } from "./follow-observable.js";
import { LocalThreadMirror } from "./local-thread-endpoints.js";

/** Where the runner keeps threads: its own coordinator on a store, or an existing one. */
export type ThreadlineBackend =
  /** A Threadline instance (shares its coordinator, fan-out and shutdown). */
  | { threadline: Threadline }
  /** An existing coordinator (the runner adds its own fan-out). */
  | { coordinator: Coordinator }
  | {
      /** Any Threadline store; the runner runs its own coordinator on it. */
      store: ThreadStore;
      /** Agents for runs this process did not start (queued before a restart, other processes). */
      agents?: Record<string, AgentSource>;
      logger?: Logger;
      leaseMs?: number;
      instanceId?: string;
    };

export type ThreadlineAgentRunnerOptions = ThreadlineBackend & {
  /** When a run arrives while the thread is busy. Default `enqueue` (a message waits its turn). */
  multitask?: MultitaskStrategy;
};

/**
 * A CopilotKit v2 `AgentRunner` backed by Threadline: durable threads in any Threadline store, at
 * most one active run per thread with multitask handling, and a connect that can follow.
 *
 * - `run` executes the request's agent instance (CopilotKit's per-request clone, overridden
 *   `runAgent` included) as a Threadline run (trigger `client`) and streams that run's events.
 *   The run is started by `run()` itself, not by subscribing.
 * - `connect` replays the thread (a snapshot) and bridges every run running or queued on it,
 *   then ends — what a stock CopilotKit client expects. With `X-Threadline-Follow: true` it
 *   follows instead: every later run of the thread, whoever starts it, until the client goes.
 * - `stop` cancels: the run ends with RUN_FINISHED (outcome cancelled) in every stream.
 *
 * What the streams show is decided in `core/copilotkit/policy.ts`, shared with Threadline's own
 * CopilotKit routes.
 */
export class ThreadlineAgentRunner extends AgentRunner implements LocalThreadEndpointRunner {
  /**
   * CopilotKit's local thread endpoints (`GET /threads`, `/threads/:id/messages|state|events`)
   * for a plain runtime, answered from a mirror (see `LocalThreadMirror`); `withThreadline`
   * answers them from the store directly.
   */
  override readonly ɵsupportsLocalThreadEndpoints = true as const;
  private mirror: LocalThreadMirror | undefined;
  readonly coordinator: Coordinator;
  readonly store: ThreadStore;
  /** Resolves once start-up recovery is done (an own coordinator) or the Threadline is ready. */
  readonly ready: Promise<void>;
  private readonly multitask: MultitaskStrategy;
  private readonly threadline: Threadline | undefined;
  private readonly fanout: FanOut | undefined;
  private readonly owned: boolean;
  private readonly follows = new Set<Follow>();
  /** Runs `run()` is putting into the store, per thread. */
  private readonly starting = new Map<string, Set<Promise<void>>>();
  private readonly deps: CopilotDeps;

  constructor(options: ThreadlineAgentRunnerOptions) {
    super();
    this.multitask = options.multitask ?? "enqueue";
    if ("threadline" in options) {
      this.threadline = options.threadline;
      this.coordinator = options.threadline.coordinator;
      this.owned = false;
      this.ready = options.threadline.ready;
    } else if ("coordinator" in options) {
      this.coordinator = options.coordinator;
      this.owned = false;
      this.ready = Promise.resolve();
    } else {
      this.coordinator = new Coordinator({
        store: options.store,
        agents: options.agents ?? {},
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
        ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
      });
      this.owned = true;
      this.ready = this.coordinator.start();
      // Surfaced again by every request that awaits `ready`.
      this.ready.catch(() => undefined);
    }
    this.store = this.coordinator.store;
    this.fanout = this.threadline ? undefined : new FanOut(this.store);
    this.deps = {
      store: this.store,
      follow: (threadId, opts) => this.follow(threadId, opts),
      startRun: (req) => this.coordinator.startRun(req),
      cancelRun: (threadId, runId) => this.coordinator.cancelRun(threadId, runId),
    };
  }

  /**
   * Starts the run at once (eager, as CopilotKit's runners do): from the moment this returns,
   * `isRunning` is true and `stop` cancels it, queued or running. The Observable streams it.
   */
  run(request: AgentRunnerRunRequest): Observable<BaseEvent> {
    const { threadId, agent, input } = request;
    const starting = this.track(
      threadId,
      (async () => {
        await this.ready;
        return startClientRun(this.deps, {
          threadId,
          agentId: agent.agentId ?? "default",
          agent,
          input,
          multitask: runMultitask(input.forwardedProps, this.multitask),
        });
      })(),
    );
    return followObservable({
      onError: runErrorEvents,
      open: async () => {
        const { runId, after } = await starting;
        return openRunStream(this.deps, { threadId, runId, after });
      },
    });
  }

  connect(request: AgentRunnerConnectRequest): Observable<BaseEvent> {
    const { threadId } = request;
    return followObservable({
      onError: runErrorEvents,
      open: async () => {
        await this.ready;
        const req = connectRequest({ ...(request.headers ? { headers: request.headers } : {}) });
        return openConnectStream(this.deps, threadId, req);
      },
    });
  }

  /** True while the thread has a run running or queued (a run `run()` just started included). */
  async isRunning(request: AgentRunnerIsRunningRequest): Promise<boolean> {
    await this.settled(request.threadId);
    return (await busyState(this.store, request.threadId)).pending.length > 0;
  }

  /** Cancels the given run (running or still queued), else the thread's running or next run. */
  async stop(request: AgentRunnerStopRequest): Promise<boolean> {
    await this.settled(request.threadId);
    return (await stopRun(this.deps, request.threadId, request.runId)).stopped;
  }

  /**
   * Ends the runner's streams; an own coordinator lets its runs finish for up to `graceMs`
   * (then closes them as interrupted). The store is the caller's to close.
   */
  listThreads(): LocalThreadEndpointRecord[] {
    return this.localThreads().listThreads();
  }

  getThreadMessages(threadId: string): Message[] {
    return this.localThreads().getThreadMessages(threadId);
  }

  getThreadEvents(threadId: string): BaseEvent[] {
    return this.localThreads().getThreadEvents(threadId);
  }

  getThreadState(threadId: string): Record<string, unknown> | null {
    return this.localThreads().getThreadState(threadId);
  }

  /**
   * CopilotKit's local-dev "clear all threads". Threadline's threads are durable records (other
   * clients, schedules, years of history): they are not wiped by a page; delete threads one by
   * one (`DELETE /threads/:id`) instead.
   */
  clearThreads(): void {}

  /** The mirror behind the local thread endpoints, started on first use. */
  localThreads(): LocalThreadMirror {
    this.mirror ??= new LocalThreadMirror(this.store, this.ready);
    return this.mirror;
  }

  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.mirror?.close();
    if (this.owned) {
      await this.ready.catch(() => undefined);
      await this.coordinator.close(opts.graceMs);
    }
    for (const f of this.follows) f.finish();
    for (const f of this.follows) f.close();
    this.fanout?.close();
  }

  /** Remembers a run being started, so isRunning and stop wait for it to be in the store. */
  private track<T>(threadId: string, starting: Promise<T>): Promise<T> {
    let set = this.starting.get(threadId);
    if (!set) {
      set = new Set();
      this.starting.set(threadId, set);
    }
    const entry = starting.then(
      () => undefined,
      () => undefined,
    );
    set.add(entry);
    void entry.then(() => {
      set.delete(entry);
      if (set.size === 0 && this.starting.get(threadId) === set) this.starting.delete(threadId);
    });
    return starting;
  }

  private async settled(threadId: string): Promise<void> {
    await this.ready;
    const set = this.starting.get(threadId);
    if (set) await Promise.all([...set]);
  }

  private follow(threadId: string, opts: FollowOptions): Follow {
    if (this.threadline) return this.threadline.follow(threadId, opts);
    const f: Follow = new Follow(this.store, this.fanout!, threadId, {
      ...opts,
      onClose: () => this.follows.delete(f),
    });
    if (!f.closed) this.follows.add(f);
    return f;
  }
}

/** A request that cannot start ends as one valid AG-UI RUN_ERROR rather than a broken stream. */
function runErrorEvents(error: unknown): BaseEvent[] {
  const code = ThreadlineError.is(error) ? error.code : "INTERNAL";
  const message = error instanceof Error ? error.message : String(error);
  return [{ type: EventType.RUN_ERROR, message, code } as BaseEvent];
}
