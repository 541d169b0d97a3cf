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
import { FanOut } from "./core/fanout.js";
import { Follow, type FollowItem, type FollowOptions } from "./core/follow.js";
import type { AgentHistory } from "./core/history-window.js";
import { InterruptExpirer } from "./core/interrupt-expirer.js";
import { type ExpiryAction, parseExpiryAction } from "./core/interrupt-expiry.js";
import { type InterruptLinkRequest, linkGrant } from "./core/interrupt-link.js";
import { type Logger, silentLogger } from "./core/logger.js";
import { parseRetentionPolicy, type RetentionPolicy } from "./core/retention.js";
import { RetentionSweeper } from "./core/retention-sweep.js";
import {
  type ScheduleInput,
  Scheduler,
  type SchedulerClock,
  systemClock,
  type TimerHandle,
} from "./core/scheduler/index.js";
import type { ThreadStore } from "./core/store.js";
import { composeTelemetry, type Telemetry } from "./core/telemetry.js";
import { deleteThread, type ThreadDeletion, updateThread } from "./core/thread-admin.js";
import type { ThreadPatch, ThreadSummary } from "./core/types.js";
import { Authenticator } from "./http/access/authenticate.js";
import { AccessGate } from "./http/access/gate.js";
import type { JwtOptions } from "./http/access/jwt.js";
import { createApp } from "./http/app.js";
import type { AuthorizeHook } from "./http/auth.js";
import { compileHooks, type HookConfig } from "./http/hooks/hook-config.js";
import { listen } from "./http/listen.js";
import type { CorsOption } from "./http/origin-policy.js";
import { instrument } from "./observability/instrument.js";
import type { MetricsOptions, ThreadlineMetrics } from "./observability/metrics.js";
import { loadTracing } from "./observability/tracing.js";
import { QUERY_ACCESS_TOKEN } from "./protocol.js";

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
   * shared store, `batchEvents` events per step (default 1,000).
   */
  retention?: RetentionPolicy & { sweepMs?: number; batchEvents?: number };
  /**
   * Interrupt expiry (PROTOCOL.md §3.1.6-8): what a pending interrupt's `expiresAt` does once
   * every interrupt the thread waits on has expired — `resume` (default: a run answers them
   * `cancelled` and the agent continues) or `record` (the answer is written, no agent runs) —
   * `onExpiry` for the server, `agents` by agent id; a thread's metadata
   * `threadline.onInterruptExpiry` wins over both. `pollMs` (default `scheduler.syncMs`, 10 s):
   * how often the store's due index is read for interrupts raised on other instances.
   */
  interrupts?: {
    onExpiry?: ExpiryAction;
    agents?: Record<string, ExpiryAction>;
    pollMs?: number;
  };
  scheduler?: {
    /** How often schedules changed by other processes are picked up. Default 10 s. */
    syncMs?: number;
    /** A tick at most this late still fires as on time; later ones follow `catchUp`. Default 5 s. */
    misfireGraceMs?: number;
  };
}

export interface ListenOptions {
  port?: number;
  host?: string;
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
  interruptLink(
    req: InterruptLinkRequest,
  ): Promise<{ token: string; path: string; expiresAt: number }>;
  listen(
    opts?: ListenOptions,
  ): Promise<{ url: string; server: ServerType; close(): Promise<void> }>;
  /** Graceful stop: finish or interrupt local runs, close the store. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** True once `close()` was called (`/readyz` then answers 503). */
  readonly closing: boolean;
}

/** How long a deletion waits for this process's followers to receive the thread's last events. */
const DELETE_DRAIN_MS = 5_000;
/** How often followed threads are checked for a deletion made by another instance. */
const DELETED_CHECK_MS = 10_000;

/** Creates a Threadline runtime: a Hono app plus the programmatic API. */
export function createThreadline(options: ThreadlineOptions): Threadline {
  const logger = options.logger ?? silentLogger;
  // Every store call is seen (append latency, replay reads, store errors).
  const { store, telemetry, metrics } = instrument({
    store: options.store,
    logger: options.logger,
    metrics: options.metrics,
    telemetry: composeTelemetry([
      options.telemetry,
      // A run that ended here may have left interrupts with a deadline: watch for it now.
      {
        runEnded: (run, end) => {
          if (end.status === "succeeded") void expiry.nudge(run.threadId);
        },
      },
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
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const fanout = new FanOut(store);
  const scheduler = new Scheduler({
    store,
    telemetry,
    startRun: (req) => coordinator.startRun(req),
    agentIds: () => coordinator.agentIds(),
    instanceId: coordinator.instanceId,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.schedules ? { declared: options.schedules } : {}),
    ...options.scheduler,
  });
  const expiryOptions = options.interrupts ?? {};
  if (expiryOptions.onExpiry !== undefined)
    parseExpiryAction(expiryOptions.onExpiry, "interrupts.onExpiry");
  for (const [agentId, action] of Object.entries(expiryOptions.agents ?? {}))
    parseExpiryAction(action, `interrupts.agents.${agentId}`);
  const pollMs = expiryOptions.pollMs ?? options.scheduler?.syncMs;
  const expiry = new InterruptExpirer({
    store,
    startRun: (req) => coordinator.startRun(req),
    hasAgent: (agentId) => coordinator.hasAgent(agentId),
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(expiryOptions.onExpiry ? { onExpiry: expiryOptions.onExpiry } : {}),
    ...(expiryOptions.agents ? { agents: expiryOptions.agents } : {}),
    // Interrupts raised elsewhere are learned as often as schedules changed elsewhere.
    ...(pollMs === undefined ? {} : { pollMs }),
    ...(options.scheduler?.misfireGraceMs === undefined
      ? {}
      : { misfireGraceMs: options.scheduler.misfireGraceMs }),
  });
  const { sweepMs, batchEvents, ...defaults } = options.retention ?? {};
  // A bad default fails here, before anything starts.
  parseRetentionPolicy(defaults, "retention");
  // The deletion of idle threads goes through `tl.deleteThread` (followers end with the marker).
  const retention = new RetentionSweeper({
    store,
    defaults,
    instanceId: coordinator.instanceId,
    deleteThread: (threadId) => tl.deleteThread(threadId),
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(sweepMs === undefined ? {} : { intervalMs: sweepMs }),
    ...(batchEvents === undefined ? {} : { batchEvents }),
  });
  // Bad hook config fails here, before anything starts (the routes compile them again).
  compileHooks(options.hooks ?? [], coordinator.agentIds());
  // The OpenTelemetry API is an optional peer: loaded (if installed) before any run starts.
  const tracing = options.tracing === false ? Promise.resolve(undefined) : loadTracing();
  const ready = tracing
    .then((t) => {
      if (t) coordinator.tracing = t;
    })
    .then(() => coordinator.start())
    .then(() => scheduler.start())
    .then(() => expiry.start())
    .then(() => retention.start());
  ready.catch((error) => logger.error({ err: error }, "start-up recovery failed"));
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
  const follows = new Set<Follow>();
  // A thread deleted through another instance of a shared store: its followers here hear no
  // more events, so every `DELETED_CHECK_MS` the threads followed here are looked up, and the
  // followers of one that is gone end with the deleted marker (the cancelled run's end came
  // first, through the store's notifications).
  const clock = options.clock ?? systemClock;
  let deletedCheck: TimerHandle | undefined;
  const checkDeleted = async () => {
    const threadIds = new Set([...follows].filter((f) => !f.closed).map((f) => f.threadId));
    for (const threadId of threadIds) {
      const head = await store.threads.head(threadId).catch(() => undefined);
      if (head !== null) continue;
      for (const f of [...follows]) if (f.threadId === threadId) f.threadDeleted();
    }
  };
  const armDeletedCheck = () => {
    deletedCheck = clock.setTimer(
      () =>
        checkDeleted()
          .catch((error) => logger.warn({ err: error }, "deleted-thread check failed"))
          .finally(() => {
            if (!tl.closing) armDeletedCheck();
          }),
      DELETED_CHECK_MS,
    );
  };
  void ready.then(() => {
    if (!tl.closing) armDeletedCheck();
  });
  // A store that lost its data (Redis without persistence) refuses to operate from now on: runs
  // stop, and every follower's stream ends saying so (PROTOCOL.md §2.8) instead of stalling.
  options.store.onDataLost?.((error) => {
    logger.error({ err: error }, "the store lost its data; restart this instance");
    coordinator.storeLost();
    for (const f of [...follows]) f.dataLost(error);
  });
  const servers = new Set<{ close(): Promise<void> }>();

  const tl: Threadline = {
    store,
    coordinator,
    fanout,
    scheduler,
    expiry,
    retention,
    copilotkit: undefined,
    options,
    gate,
    telemetry,
    metrics,
    ready,
    app: undefined as unknown as Hono,
    fetch: (request) => Promise.resolve(tl.app.fetch(request)),
    // Refused from the moment shutdown begins; the coordinator itself stops only after the
    // scheduler did (a tick it already claimed still starts its run).
    startRun: (req: StartRunRequest) =>
      tl.closing ? Promise.reject(shuttingDown()) : coordinator.startRun(req),
    cancelRun: (threadId, runId, opts) => coordinator.cancelRun(threadId, runId, opts),
    updateThread: (threadId, patch) => updateThread(store, threadId, patch),
    async deleteThread(threadId) {
      const deleted = await deleteThread(
        {
          store,
          coordinator,
          // This process's followers get everything up to the cancelled run's end first.
          beforeDelete: (lastSeq) =>
            Promise.all(
              [...follows]
                .filter((f) => f.threadId === threadId)
                .map((f) => f.delivered(lastSeq, DELETE_DRAIN_MS)),
            ),
        },
        threadId,
      );
      // This process's followers of the thread end now.
      for (const f of follows) if (f.threadId === threadId) f.threadDeleted();
      return deleted;
    },
    async interruptLink(req) {
      const head = await store.threads.head(req.threadId);
      const { grant, expiresAt } = linkGrant(head, req, clock.now());
      const token = await gate.auth.mintInterruptLink(grant, expiresAt);
      const path = `/threads/${encodeURIComponent(req.threadId)}/interrupts/${encodeURIComponent(req.interruptId)}?${QUERY_ACCESS_TOKEN}=${token}`;
      return { token, path, expiresAt };
    },
    follow(threadId, opts) {
      const f: Follow = new Follow(store, fanout, threadId, {
        ...opts,
        onClose: () => {
          if (follows.delete(f)) telemetry.followerClosed?.();
          opts?.onClose?.();
        },
        onOverflow: () => {
          telemetry.followerCutOff?.("overflow");
          opts?.onOverflow?.();
        },
      });
      if (!f.closed) {
        follows.add(f);
        telemetry.followerOpened?.();
      }
      return f;
    },
    async listen(opts) {
      const listening = await listen(tl, opts);
      const detach = tl.copilotkit?.attach(listening.server as Server);
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
    closing: false,
    async close(opts) {
      (tl as { closing: boolean }).closing = true;
      // Order matters: runs finish (or are closed as INTERRUPTED) while followers are still
      // attached, followers get everything committed and their streams end cleanly, then the
      // servers and the store close.
      await ready.catch(() => undefined);
      await scheduler.stop();
      await expiry.stop();
      await retention.stop();
      deletedCheck?.cancel();
      await coordinator.close(opts?.graceMs);
      tl.copilotkit?.close();
      for (const f of follows) f.finish();
      const deadline = Date.now() + 2_000;
      while (follows.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const f of follows) f.close();
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
      fanout.close();
      await store.close();
    },
  };
  if (options.copilotkit !== false) {
    const surface = new CopilotKitSurface(
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
        follow: (threadId, opts) => tl.follow(threadId, opts),
        mutations: {
          update: (threadId, patch) => tl.updateThread(threadId, patch),
          delete: (threadId) => tl.deleteThread(threadId),
        },
      },
      // The socket lets in the same pages as the API.
      { ...(options.cors === undefined ? {} : { cors: options.cors }), ...options.copilotkit },
    );
    surface.start();
    (tl as { copilotkit: CopilotKitSurface }).copilotkit = surface;
  }
  (tl as { app: Hono }).app = createApp(tl);
  return tl;
}

export type { FollowItem, FollowOptions, ThreadDeletion, ThreadPatch };
