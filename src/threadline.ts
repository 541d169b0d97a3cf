import type { Server } from "node:http";
import type { ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import { CopilotKitSurface, type CopilotKitSurfaceOptions } from "./copilotkit-surface/surface.js";
import {
  type AgentSource,
  Coordinator,
  type StartRunRequest,
  shuttingDown,
} from "./core/coordinator.js";
import { type ExpiryOptions, expirySettings } from "./core/expiry-settings.js";
import { FanOut } from "./core/fanout.js";
import type { Follow, FollowItem, FollowOptions } from "./core/follow.js";
import { Followers } from "./core/followers.js";
import type { AgentHistory } from "./core/history-window.js";
import { InterruptExpirer } from "./core/interrupt-expirer.js";
import {
  type InterruptLink,
  type InterruptLinkGrant,
  type InterruptLinkRequest,
  makeInterruptLink,
} from "./core/interrupt-link.js";
import { type Logger, silentLogger } from "./core/logger.js";
import { parseRetentionPolicy, type RetentionPolicy } from "./core/retention.js";
import { RetentionSweeper } from "./core/retention-sweep.js";
import {
  type ScheduleInput,
  Scheduler,
  type SchedulerClock,
  systemClock,
} from "./core/scheduler/index.js";
import { startRuntime, stopRuns } from "./core/startup.js";
import type { ThreadStore } from "./core/store.js";
import { composeTelemetry, type Telemetry } from "./core/telemetry.js";
import { deleteThread, type ThreadDeletion, updateThread } from "./core/thread-admin.js";
import type { ThreadPatch, ThreadSummary } from "./core/types.js";
import { Authenticator } from "./http/access/authenticate.js";
import { AccessGate } from "./http/access/gate.js";
import type { JwtOptions } from "./http/access/jwt.js";
import { createApp, DEFAULT_MAX_BODY_BYTES } from "./http/app.js";
import type { AuthorizeHook } from "./http/auth.js";
import type { HttpConfig, HttpDeps } from "./http/deps.js";
import { compileHooks, type HookConfig } from "./http/hooks/hook-config.js";
import { type ListenOptions, listen } from "./http/listen.js";
import type { CorsOption } from "./http/origin-policy.js";
import { SseHandoff } from "./http/sse.js";
import { instrument } from "./observability/instrument.js";
import type { MetricsOptions, ThreadlineMetrics } from "./observability/metrics.js";
import { loadTracing } from "./observability/tracing.js";

export interface ThreadlineOptions {
  store: ThreadStore;
  agents: Record<string, AgentSource>;
  /**
   * What each agent's runs see of the thread (README "What a run sees"): `{ lastMessages: N }`
   * or a `build` hook, by agent id. Default: the whole view. A run's own `input.history` (a
   * request's or its schedule's) wins.
   */
  history?: Record<string, AgentHistory>;
  logger?: Logger;
  /** Static bearer token: full access to every route but the public ones (PROTOCOL.md §7). */
  token?: string;
  /**
   * Per-user access: users' JWTs (HS256 secret or a JWKS URL). A user sees and drives only the
   * threads it owns (created by it) and those under its `threads` claim (PROTOCOL.md §7.1).
   */
  jwt?: JwtOptions;
  /** Key of signed follow URLs (`POST /threads/:id/follow-url`); default derived from the token or JWT secret. */
  followUrlSecret?: string;
  /** Lifetime of a signed follow URL. Default 5 min. */
  followUrlTtlMs?: number;
  /**
   * Key of signed interrupt links (`tl.interruptLink`, PROTOCOL.md §3.1.10; at least 16
   * characters, the same on every instance); default derived like `followUrlSecret`'s.
   */
  interruptLinkSecret?: string;
  /** Fine-grained access control for library users; runs after the built-in rule allowed. */
  authorize?: AuthorizeHook;
  /**
   * Prometheus metrics at `GET /metrics` (static token unless `open`); false turns them off.
   * README "Metrics" lists them.
   */
  metrics?: MetricsOptions | false;
  /**
   * OpenTelemetry spans (a run's, its store appends', its agent call's) when `@opentelemetry/api`
   * is installed; false turns them off. Default true.
   */
  tracing?: boolean;
  /** Your own observer of run transitions, store calls, followers, ticks and deliveries. */
  telemetry?: Telemetry;
  /** SSE keep-alive comment interval. Default 15 s. */
  keepaliveMs?: number;
  /**
   * A follower whose connection stays unwritable (it stopped reading) this long is disconnected;
   * it resumes from its cursor when it reconnects. Default 30 s; 0 never cuts one off.
   */
  followerWriteTimeoutMs?: number;
  /** Maximum request body size in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Serve the thread inspector page at `/` (default true). */
  inspector?: boolean;
  /**
   * Web pages (origins) allowed to call the API from a browser, besides the server's own (the
   * inspector). Default none: `["http://localhost:5173"]` (or a comma-separated string) for a
   * frontend served elsewhere, `true` / `"*"` for any page. See `origin-policy.ts`.
   */
  cors?: CorsOption;
  /**
   * Extra `Host` names a loopback-bound `listen()` answers to (DNS rebinding protection accepts
   * loopback names only), e.g. a name of 127.0.0.1 in /etc/hosts.
   */
  allowedHosts?: string[];
  /** Run lease duration (recovery bound for multi-instance stores). Default 15 s. */
  leaseMs?: number;
  instanceId?: string;
  /** Schedules declared in config, upserted by id at start (a pause made via the API is kept). */
  schedules?: ScheduleInput[];
  /** Webhooks: `POST /hooks/:id`, HMAC-signed. */
  hooks?: HookConfig[];
  /**
   * Time source of run leases (expiry, renewal, the sweep for expired ones), schedules,
   * webhook timestamps and interrupt expiry (`expiresAt`); tests inject a `ManualClock`.
   */
  clock?: SchedulerClock;
  /**
   * The CopilotKit surface (run-activity websocket, CopilotKit's thread endpoints, `/info` that
   * turns a stock chat's wake on) under `basePath` (default `/copilotkit`); false turns it off.
   */
  copilotkit?: CopilotKitSurfaceOptions | false;
  /**
   * Retention (README "Retention"): the server's default policy — keep the newest `keepRuns`
   * runs, runs younger than `maxAgeMs`, delete threads idle for `deleteIdleAfterMs` — which a
   * thread's metadata (`threadline.retention`) or its schedule's `retention` override; applied
   * every `sweepMs` (default 60 s; 0: only when `retention.sweep()` is called) by one instance of a
   * shared store, `batchEvents` events per step (default 1,000). After `reclaimAfterRows` rows
   * removed (default 10,000; 0: never) the store reclaims their space (PostgreSQL: a plain VACUUM).
   */
  retention?: RetentionPolicy & {
    sweepMs?: number;
    batchEvents?: number;
    reclaimAfterRows?: number;
  };
  /**
   * Interrupt expiry (PROTOCOL.md §3.1.6-8): what a pending interrupt's `expiresAt` does once
   * every interrupt the thread waits on has expired — `resume` (default: a run answers them
   * `cancelled` and the agent continues) or `record` (the answer is written, no agent runs) —
   * `onExpiry` for the server, `agents` by agent id; a thread's metadata
   * `threadline.onInterruptExpiry` wins over both. `pollMs` (default `scheduler.syncMs`, 10 s):
   * how often the store's due index is read for interrupts raised on other instances.
   */
  interrupts?: ExpiryOptions;
  scheduler?: {
    /** How often schedules changed by other processes are picked up. Default 10 s. */
    syncMs?: number;
    /** A tick at most this late still fires as on time; later ones follow `catchUp`. Default 5 s. */
    misfireGraceMs?: number;
  };
}

export interface Threadline {
  readonly app: Hono;
  readonly store: ThreadStore;
  readonly coordinator: Coordinator;
  readonly fanout: FanOut;
  readonly scheduler: Scheduler;
  /** Interrupt expiry (see `ThreadlineOptions.interrupts`); `check()` runs a pass now. */
  readonly expiry: InterruptExpirer;
  /** The retention sweep (see `ThreadlineOptions.retention`); `sweep()` runs one now. */
  readonly retention: RetentionSweeper;
  /** The CopilotKit surface, unless `copilotkit: false`. */
  readonly copilotkit: CopilotKitSurface | undefined;
  readonly options: ThreadlineOptions;
  /** Authentication and the per-route access rule (PROTOCOL.md §7). */
  readonly gate: AccessGate;
  /** What the runtime reports (metrics, the run log, your `telemetry`). */
  readonly telemetry: Telemetry;
  /** The Prometheus metrics, unless `metrics: false`. */
  readonly metrics: ThreadlineMetrics | undefined;
  /** Resolves once start-up recovery (interrupted runs, queues) is done and schedules are armed. */
  readonly ready: Promise<void>;
  fetch(request: Request): Promise<Response>;
  /** Programmatic trigger: trigger kind `api` unless `trigger` says otherwise. */
  startRun: Coordinator["startRun"];
  cancelRun: Coordinator["cancelRun"];
  /**
   * Applies a metadata merge patch (RFC 7386: `null` removes a key) to a thread, e.g. a
   * CopilotKit thread's `name` or `archived`. THREAD_NOT_FOUND for an unknown thread.
   */
  updateThread(threadId: string, patch: ThreadPatch): Promise<ThreadSummary>;
  /**
   * Deletes a thread and everything tied to it (log, view, runs, queue). An active run is
   * cancelled first, so followers see it end; then their streams end with the thread-deleted
   * marker (PROTOCOL.md §2.7). THREAD_NOT_FOUND for an unknown thread.
   */
  deleteThread(threadId: string): Promise<ThreadDeletion>;
  /** Follow a thread: replay, then the live tail, until aborted or `return()`ed. */
  follow(threadId: string, opts?: FollowOptions): Follow;
  /**
   * A signed, short-lived link that answers one pending interrupt, for an email or a chat-ops
   * button (PROTOCOL.md §3.1.10): `path` is `/threads/<id>/interrupts/<interruptId>?access_token=
   * <token>` — GET shows the interrupt, POST `{ status, payload? }` answers it without any other
   * credential. The resume run records `startedBy: { kind: "link", id: sub }`.
   */
  interruptLink(req: InterruptLinkRequest): Promise<InterruptLink>;
  listen(
    opts?: ListenOptions,
  ): Promise<{ url: string; server: ServerType; close(): Promise<void> }>;
  /** Graceful stop: finish or interrupt local runs, close the store. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** True once `close()` was called (`/readyz` then answers 503). */
  readonly closing: boolean;
}

/** Creates a Threadline runtime: a Hono app plus the programmatic API. Composition only. */
export function createThreadline(options: ThreadlineOptions): Threadline {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  // Every store call is seen (append latency, replay reads, store errors).
  const { store, telemetry, metrics } = instrument({
    store: options.store,
    logger: options.logger,
    metrics: options.metrics,
    telemetry: composeTelemetry([
      options.telemetry,
      // A run that ended here may have asked interrupts with a deadline: watch for it now.
      { runEnded: (_run, end) => expiry.asked(end.interrupts) },
    ]),
    sources: { queued: () => coordinator.queuedHere, running: () => coordinator.runningHere },
  });
  const coordinator = new Coordinator({
    store,
    telemetry,
    agents: options.agents,
    ...(options.history ? { history: options.history } : {}),
    logger,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
    clock,
  });
  const fanout = new FanOut(store, { clock });
  const followers = new Followers({ store, fanout, telemetry, clock, logger });
  const scheduler = new Scheduler({
    store,
    telemetry,
    startRun: (req) => coordinator.startRun(req),
    agentIds: () => coordinator.agentIds(),
    instanceId: coordinator.instanceId,
    logger,
    clock,
    ...(options.schedules ? { declared: options.schedules } : {}),
    ...options.scheduler,
  });
  const expiry = new InterruptExpirer({
    store,
    startRun: (req) => coordinator.startRun(req),
    hasAgent: (agentId) => coordinator.hasAgent(agentId),
    logger,
    clock,
    ...expirySettings(options.interrupts, options.scheduler),
  });
  let closing = false;
  // Refused from the moment shutdown begins; the coordinator itself stops only after the
  // scheduler did (a tick it already claimed still starts its run).
  const startRun: Coordinator["startRun"] = (req: StartRunRequest) =>
    closing ? Promise.reject(shuttingDown()) : coordinator.startRun(req);
  const cancelRun: Coordinator["cancelRun"] = (threadId, runId, opts) =>
    coordinator.cancelRun(threadId, runId, opts);
  const follow = (threadId: string, opts?: FollowOptions) => followers.follow(threadId, opts);
  const patchThread = (threadId: string, patch: ThreadPatch) =>
    updateThread(store, threadId, patch);
  const removeThread = async (threadId: string): Promise<ThreadDeletion> => {
    const deleted = await deleteThread(
      {
        store,
        coordinator,
        // This process's followers get everything up to the cancelled run's end first.
        beforeDelete: (lastSeq) => followers.drain(threadId, lastSeq),
      },
      threadId,
    );
    followers.threadDeleted(threadId);
    return deleted;
  };
  const { sweepMs, batchEvents, reclaimAfterRows, ...defaults } = options.retention ?? {};
  // A bad default fails here, before anything starts.
  parseRetentionPolicy(defaults, "retention");
  // The deletion of idle threads ends their followers with the marker, as any deletion.
  const retention = new RetentionSweeper({
    store,
    defaults,
    instanceId: coordinator.instanceId,
    deleteThread: removeThread,
    logger,
    clock,
    ...(sweepMs === undefined ? {} : { intervalMs: sweepMs }),
    ...(batchEvents === undefined ? {} : { batchEvents }),
    ...(reclaimAfterRows === undefined ? {} : { reclaimAfterRows }),
  });
  // Bad hook config fails here, before anything starts (the routes compile them again).
  compileHooks(options.hooks ?? [], coordinator.agentIds());
  const parts = {
    store: options.store,
    coordinator,
    scheduler,
    expiry,
    retention,
    followers,
    logger,
  };
  // The OpenTelemetry API is an optional peer: loaded (if installed) before any run starts.
  const ready = startRuntime(
    parts,
    options.tracing === false ? Promise.resolve(undefined) : loadTracing(),
  );
  const gate = new AccessGate(
    new Authenticator({
      ...(options.token ? { token: options.token } : {}),
      ...(options.jwt ? { jwt: options.jwt } : {}),
      ...(options.followUrlSecret ? { followUrlSecret: options.followUrlSecret } : {}),
      ...(options.followUrlTtlMs === undefined ? {} : { followUrlTtlMs: options.followUrlTtlMs }),
      ...(options.interruptLinkSecret ? { interruptLinkSecret: options.interruptLinkSecret } : {}),
      linkNow: () => clock.now(),
    }),
    store,
    options.authorize,
  );
  const linkDeps = {
    head: (threadId: string) => store.threads.head(threadId),
    now: () => clock.now(),
    mint: (grant: InterruptLinkGrant, expiresAt: number) =>
      gate.auth.mintInterruptLink(grant, expiresAt),
  };
  const interruptLink = (req: InterruptLinkRequest) => makeInterruptLink(linkDeps, req);
  const copilotkit =
    options.copilotkit === false
      ? undefined
      : new CopilotKitSurface(
          {
            store,
            logger,
            ...(options.token ? { token: options.token } : {}),
            // The server's whole rule (credentials, per-user access, the hook) decides what the
            // surface lists and what its socket announces to each principal.
            ...(gate.guarded
              ? { authorize: gate.asHook, authenticate: (r: Request) => gate.auth.authenticate(r) }
              : {}),
            ...(options.jwt?.secret ? { keyMaterial: options.jwt.secret } : {}),
            follow,
            mutations: { update: patchThread, delete: removeThread },
          },
          // The socket lets in the same pages as the API.
          { ...(options.cors === undefined ? {} : { cors: options.cors }), ...options.copilotkit },
        );
  copilotkit?.start();
  const http: HttpDeps = {
    store,
    instanceId: coordinator.instanceId,
    follow,
    startRun,
    cancelRun,
    updateThread: patchThread,
    deleteThread: removeThread,
    interruptLink,
    agents: coordinator.agents,
    scheduler,
    hooks: options.hooks ?? [],
    clock,
    ready,
    closing: () => closing,
    gate,
    telemetry,
    ...(metrics ? { metrics } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(copilotkit ? { copilotkit } : {}),
    sse: new SseHandoff(),
    config: httpConfig(options),
  };
  const app = createApp(http);
  const servers = new Set<{ close(): Promise<void> }>();

  const tl: Threadline = {
    app,
    store,
    coordinator,
    fanout,
    scheduler,
    expiry,
    retention,
    copilotkit,
    options,
    gate,
    telemetry,
    metrics,
    ready,
    fetch: (request) => Promise.resolve(app.fetch(request)),
    startRun,
    cancelRun,
    updateThread: patchThread,
    deleteThread: removeThread,
    interruptLink,
    follow,
    async listen(opts) {
      const listening = await listen(http, app, opts);
      const detach = copilotkit?.attach(listening.server as Server);
      const server = {
        ...listening,
        close: async () => {
          servers.delete(server);
          // Upgraded websockets first: the http server's close waits for them.
          detach?.();
          await listening.close();
        },
      };
      servers.add(server);
      return server;
    },
    get closing() {
      return closing;
    },
    async close(opts) {
      closing = true;
      // Order matters: runs finish (or are closed as INTERRUPTED) while followers are still
      // attached, followers get everything committed and their streams end cleanly, then the
      // servers and the store close.
      await stopRuns(parts, ready, opts?.graceMs);
      copilotkit?.close();
      await followers.finish();
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
      fanout.close();
      await store.close();
    },
  };
  return tl;
}

/** The HTTP layer's settings, defaults applied here once. */
function httpConfig(options: ThreadlineOptions): HttpConfig {
  return {
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    ...(options.keepaliveMs === undefined ? {} : { keepaliveMs: options.keepaliveMs }),
    ...(options.followerWriteTimeoutMs === undefined
      ? {}
      : { followerWriteTimeoutMs: options.followerWriteTimeoutMs }),
    ...(options.cors === undefined ? {} : { cors: options.cors }),
    allowedHosts: options.allowedHosts ?? [],
    inspector: options.inspector !== false,
    metricsOpen: options.metrics !== false && options.metrics?.open === true,
  };
}

export type { FollowItem, FollowOptions, ListenOptions, ThreadDeletion, ThreadPatch };
