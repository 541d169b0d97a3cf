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
import { type AgentSource, Coordinator, type StartRunRequest } from "../core/coordinator.js";
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
import type { Telemetry } from "../core/telemetry.js";
import { type TraceParent, traceParentFrom } from "../core/tracing.js";
import type { MultitaskStrategy, RunActor } from "../core/types.js";
import { instrument } from "../observability/instrument.js";
import type { MetricsOptions, ThreadlineMetrics } from "../observability/metrics.js";
import { loadTracing } from "../observability/tracing.js";
import type { Threadline } from "../threadline.js";
import { followObservable } from "./follow-observable.js";
import { LocalThreadMirror } from "./local-thread-endpoints.js";
import { type RunnerPrincipal, RunnerRequests } from "./runner-requests.js";

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
      /** Logs (and the run log: a line per run transition). */
      logger?: Logger;
      leaseMs?: number;
      instanceId?: string;
      /**
       * Prometheus metrics of the runner's runs, the same as `createThreadline`'s (default on;
       * serve `runner.metrics.scrape()` where you like); false: none.
       */
      metrics?: MetricsOptions | false;
      /** OpenTelemetry spans when `@opentelemetry/api` is installed (default true). */
      tracing?: boolean;
      /** Your own observer of run transitions, store calls and followers. */
      telemetry?: Telemetry;
    };

export type ThreadlineAgentRunnerOptions = ThreadlineBackend & {
  /** When a run arrives while the thread is busy. Default `enqueue` (a message waits its turn). */
  multitask?: MultitaskStrategy;
  /**
   * Who starts a run, from its request: recorded as the run's `startedBy` (the run list, the
   * run log). Gets the headers CopilotKit forwarded to the agent (`authorization`, `x-*`) and,
   * when the handler options went through `withThreadline`, the runtime's `Request`. Return
   * undefined for nobody; a throw refuses the run (one RUN_ERROR, the thread unchanged).
   */
  principal?: RunnerPrincipal;
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
  /** What the runner's runs report through (own coordinator: its own; else the backend's). */
  private readonly telemetry: Telemetry;
  /**
   * Prometheus metrics of this runner's runs: its own (own coordinator, unless `metrics:
   * false`), the Threadline's (`{ threadline }`); none for `{ coordinator }`.
   */
  readonly metrics: ThreadlineMetrics | undefined;
  /** Run requests `withThreadline` handed on (see `RunnerRequests`). */
  readonly requests = new RunnerRequests();
  private readonly principal: RunnerPrincipal | undefined;

  constructor(options: ThreadlineAgentRunnerOptions) {
    super();
    this.multitask = options.multitask ?? "enqueue";
    this.principal = options.principal;
    if ("threadline" in options) {
      this.threadline = options.threadline;
      this.coordinator = options.threadline.coordinator;
      this.owned = false;
      this.ready = options.threadline.ready;
      this.telemetry = options.threadline.telemetry;
      this.metrics = options.threadline.metrics;
    } else if ("coordinator" in options) {
      this.coordinator = options.coordinator;
      this.owned = false;
      this.ready = Promise.resolve();
      this.telemetry = {};
      this.metrics = undefined;
    } else {
      // The same observers as createThreadline's: the runner's runs count as native runs do.
      const observed = instrument({
        store: options.store,
        logger: options.logger,
        metrics: options.metrics,
        telemetry: options.telemetry,
        sources: {
          queued: () => this.coordinator.queuedHere,
          running: () => this.coordinator.runningHere,
        },
      });
      this.telemetry = observed.telemetry;
      this.metrics = observed.metrics;
      this.coordinator = new Coordinator({
        store: observed.store,
        telemetry: observed.telemetry,
        agents: options.agents ?? {},
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
        ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
      });
      this.owned = true;
      const coordinator = this.coordinator;
      // The OpenTelemetry API is an optional peer: loaded (if installed) before any run starts.
      const tracing = options.tracing === false ? Promise.resolve(undefined) : loadTracing();
      this.ready = tracing.then((t) => {
        if (t) coordinator.tracing = t;
        return coordinator.start();
      });
      // Surfaced again by every request that awaits `ready`.
      this.ready.catch(() => undefined);
    }
    this.store = this.coordinator.store;
    this.fanout = this.threadline
      ? undefined
      : new FanOut(this.store, { clock: this.coordinator.clock });
    this.deps = this.depsFor(undefined, undefined);
  }

  /** The policy's dependencies, acting for a run's request: its runs record who and its trace. */
  private depsFor(startedBy: RunActor | undefined, traceparent: TraceParent | undefined) {
    const extra: Partial<StartRunRequest> = {
      ...(startedBy ? { startedBy } : {}),
      ...(traceparent ? { traceparent } : {}),
    };
    return {
      store: this.store,
      follow: (threadId, opts) => this.follow(threadId, opts),
      startRun: (req) => this.coordinator.startRun({ ...req, ...extra }),
      cancelRun: (threadId, runId) => this.coordinator.cancelRun(threadId, runId),
    } satisfies CopilotDeps;
  }

  /**
   * Starts the run at once (eager, as CopilotKit's runners do): from the moment this returns,
   * `isRunning` is true and `stop` cancels it, queued or running. The Observable streams it.
   * Its principal (`principal`) and trace (the request's `traceparent`) come from its request.
   */
  run(request: AgentRunnerRunRequest): Observable<BaseEvent> {
    const { threadId, agent, input } = request;
    const agentId = agent.agentId ?? "default";
    // Before the agent runs: the key header must not reach the agent's backend.
    const { headers, request: original } = this.requests.take(agent);
    const starting = this.track(
      threadId,
      (async () => {
        await this.ready;
        const startedBy = await this.principalOf({
          threadId,
          agentId,
          input,
          headers,
          ...(original ? { request: original } : {}),
        });
        const traceparent = traceParentFrom((name) =>
          original ? original.headers.get(name) : headers[name],
        );
        return startClientRun(this.depsFor(startedBy, traceparent), {
          threadId,
          agentId,
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

  /** The run's principal from the `principal` option (checked: a RunActor or nothing). */
  private async principalOf(ctx: Parameters<RunnerPrincipal>[0]): Promise<RunActor | undefined> {
    if (!this.principal) return undefined;
    const actor = await this.principal(ctx);
    if (actor === undefined) return undefined;
    if (
      !actor ||
      (actor.kind !== "user" && actor.kind !== "token") ||
      typeof actor.id !== "string" ||
      actor.id === ""
    ) {
      throw new ThreadlineError(
        "INTERNAL",
        "ThreadlineAgentRunner: principal() must return { kind: 'user' | 'token', id } or undefined",
      );
    }
    return { kind: actor.kind, id: actor.id };
  }

  private follow(threadId: string, opts: FollowOptions): Follow {
    if (this.threadline) return this.threadline.follow(threadId, opts);
    const f: Follow = new Follow(this.store, this.fanout!, threadId, {
      ...opts,
      onClose: () => {
        if (this.follows.delete(f)) this.telemetry.followerClosed?.();
        opts.onClose?.();
      },
      onOverflow: () => {
        this.telemetry.followerCutOff?.("overflow");
        opts.onOverflow?.();
      },
    });
    if (!f.closed) {
      this.follows.add(f);
      this.telemetry.followerOpened?.();
    }
    return f;
  }
}

/** A request that cannot start ends as one valid AG-UI RUN_ERROR rather than a broken stream. */
function runErrorEvents(error: unknown): BaseEvent[] {
  const code = ThreadlineError.is(error) ? error.code : "INTERNAL";
  const message = error instanceof Error ? error.message : String(error);
  return [{ type: EventType.RUN_ERROR, message, code } as BaseEvent];
}
