import { type BaseEvent, EventType } from "@ag-ui/core";
import {
  AgentRunner,
  type AgentRunnerConnectRequest,
  type AgentRunnerIsRunningRequest,
  type AgentRunnerRunRequest,
  type AgentRunnerStopRequest,
} from "@copilotkit/runtime/v2";
import type { Observable } from "rxjs";
import { clientRunInput } from "../core/client-run.js";
import { connectOptions } from "../core/connect-options.js";
import { type AgentSource, Coordinator } from "../core/coordinator.js";
import { ThreadlineError } from "../core/errors.js";
import { FanOut } from "../core/fanout.js";
import { Follow, type FollowItem, type FollowOptions } from "../core/follow.js";
import type { Logger } from "../core/logger.js";
import { isTerminalEvent } from "../core/run-tracker.js";
import type { ThreadStore } from "../core/store.js";
import { MULTITASK_STRATEGIES, type MultitaskStrategy } from "../core/types.js";
import { FORWARDED_PROPS_KEY } from "../protocol.js";
import type { Threadline } from "../threadline.js";
import { followObservable, type ItemVerdict } from "./follow-observable.js";

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
  /** Whether connect follows when the request does not say (`X-Threadline-Follow`). Default false. */
  connectFollowDefault?: boolean;
};

/**
 * A CopilotKit v2 `AgentRunner` backed by Threadline: durable threads in any Threadline store, at
 * most one active run per thread with multitask handling, and a connect that can follow.
 *
 * - `run` executes the request's agent instance (CopilotKit's per-request clone, overridden
 *   `runAgent` included) as a Threadline run (trigger `client`) and streams that run's events.
 * - `connect` replays the thread (a snapshot) and bridges the run in progress, then ends — what
 *   a stock CopilotKit client expects. With `X-Threadline-Follow: true` it follows instead: every
 *   later run of the thread, whoever starts it, until the client goes away.
 * - `stop` cancels: the run ends with RUN_FINISHED (outcome cancelled) in every stream.
 */
export class ThreadlineAgentRunner extends AgentRunner {
  readonly coordinator: Coordinator;
  readonly store: ThreadStore;
  /** Resolves once start-up recovery is done (an own coordinator) or the Threadline is ready. */
  readonly ready: Promise<void>;
  private readonly multitask: MultitaskStrategy;
  private readonly followDefault: boolean;
  private readonly threadline: Threadline | undefined;
  private readonly fanout: FanOut | undefined;
  private readonly owned: boolean;
  private readonly follows = new Set<Follow>();

  constructor(options: ThreadlineAgentRunnerOptions) {
    super();
    this.multitask = options.multitask ?? "enqueue";
    this.followDefault = options.connectFollowDefault ?? false;
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
  }

  run(request: AgentRunnerRunRequest): Observable<BaseEvent> {
    const { threadId, agent, input } = request;
    return followObservable({
      onError: runErrorEvents,
      open: async () => {
        await this.ready;
        const multitask = multitaskOf(input.forwardedProps) ?? this.multitask;
        await this.store.ensureThread(threadId);
        const start = (await this.store.getThread(threadId))?.lastSeq ?? 0;
        // Attach before starting, so none of the run's events can slip past.
        const follow = this.follow(threadId, { after: start, replay: "full" });
        try {
          await follow.open();
          const { runId } = await this.coordinator.startRun({
            threadId,
            agentId: agent.agentId ?? "default",
            agent,
            runId: input.runId,
            multitask,
            trigger: { kind: "client" },
            input: clientRunInput(input),
          });
          const decide = (item: FollowItem): ItemVerdict =>
            item.runId !== runId
              ? "skip"
              : item.kind === "event" && isTerminalEvent(item.event)
                ? "emit-and-end"
                : "emit";
          return { follow, decide };
        } catch (error) {
          follow.close();
          throw error;
        }
      },
    });
  }

  connect(request: AgentRunnerConnectRequest): Observable<BaseEvent> {
    const { threadId } = request;
    return followObservable({
      onError: runErrorEvents,
      open: async () => {
        await this.ready;
        const opts = connectOptions(request.headers, this.followDefault);
        const thread = await this.store.getThread(threadId);
        // Nothing to replay and nothing running: CopilotKit's runners complete at once.
        if (!opts.follow && (!thread || thread.lastSeq === 0)) return null;
        if (!thread) await this.store.ensureThread(threadId);
        const replay = opts.replay ?? (opts.after ? "full" : "compact");
        const follow = this.follow(threadId, { after: opts.after ?? 0, replay });
        try {
          await follow.open();
        } catch (error) {
          follow.close();
          throw error;
        }
        if (opts.follow) return { follow, decide: (): ItemVerdict => "emit" };
        // Read after attaching: a run active now ends in this stream, and then so does it.
        const now = await this.store.getThread(threadId);
        const active = now?.activeRunId ?? undefined;
        if (active) {
          return {
            follow,
            decide: (item): ItemVerdict =>
              item.runId === active && item.kind === "event" && isTerminalEvent(item.event)
                ? "emit-and-end"
                : "emit",
          };
        }
        // Idle: deliver what is committed, then end (a run starting meanwhile is not bridged).
        const last = now?.lastSeq ?? 0;
        follow.finish();
        return { follow, decide: (item): ItemVerdict => (item.seq > last ? "end" : "emit") };
      },
    });
  }

  async isRunning(request: AgentRunnerIsRunningRequest): Promise<boolean> {
    await this.ready;
    return Boolean((await this.store.getThread(request.threadId))?.activeRunId);
  }

  /** Cancels the thread's active run, or the given run (running or still queued). */
  async stop(request: AgentRunnerStopRequest): Promise<boolean> {
    await this.ready;
    const { threadId } = request;
    let runId = request.runId;
    if (runId) {
      const run = await this.store.getRun(threadId, runId);
      if (!run || (run.status !== "running" && run.status !== "queued")) return false;
    } else {
      runId = (await this.store.getThread(threadId))?.activeRunId ?? undefined;
      if (!runId) return false;
    }
    const after = await this.coordinator.cancelRun(threadId, runId);
    return after.status === "cancelled" || after.cancelRequested === true;
  }

  /**
   * Ends the runner's streams; an own coordinator lets its runs finish for up to `graceMs`
   * (then closes them as interrupted). The store is the caller's to close.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.owned) {
      await this.ready.catch(() => undefined);
      await this.coordinator.close(opts.graceMs);
    }
    for (const f of this.follows) f.finish();
    for (const f of this.follows) f.close();
    this.fanout?.close();
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

/** `forwardedProps.threadline.multitask`, as the Threadline server's own CopilotKit routes read it. */
function multitaskOf(forwardedProps: unknown): MultitaskStrategy | undefined {
  const props = (forwardedProps ?? {}) as Record<string, unknown>;
  const value = (props[FORWARDED_PROPS_KEY] as { multitask?: unknown } | undefined)?.multitask;
  if (value === undefined) return undefined;
  if (!(MULTITASK_STRATEGIES as readonly unknown[]).includes(value)) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `forwardedProps.${FORWARDED_PROPS_KEY}.multitask must be one of ${MULTITASK_STRATEGIES}`,
    );
  }
  return value as MultitaskStrategy;
}

/** A request that cannot start ends as one valid AG-UI RUN_ERROR rather than a broken stream. */
function runErrorEvents(error: unknown): BaseEvent[] {
  const code = ThreadlineError.is(error) ? error.code : "INTERNAL";
  const message = error instanceof Error ? error.message : String(error);
  return [{ type: EventType.RUN_ERROR, message, code } as BaseEvent];
}
