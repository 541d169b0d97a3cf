import type { CopilotKitSurface } from "../copilotkit-surface/surface.js";
import type { AgentDirectory } from "../core/agent-directory.js";
import type { Coordinator } from "../core/coordinator.js";
import type { Follow, FollowOptions } from "../core/follow.js";
import type { InterruptLink, InterruptLinkRequest } from "../core/interrupt-link.js";
import type { Logger } from "../core/logger.js";
import type { Scheduler, SchedulerClock } from "../core/scheduler/index.js";
import type { ThreadStore } from "../core/store.js";
import type { Telemetry } from "../core/telemetry.js";
import type { ThreadDeletion } from "../core/thread-admin.js";
import type { ThreadPatch, ThreadSummary } from "../core/types.js";
import type { ThreadlineMetrics } from "../observability/metrics.js";
import type { AccessGate } from "./access/gate.js";
import type { HookConfig } from "./hooks/hook-config.js";
import type { CorsOption } from "./origin-policy.js";
import type { SseHandoff } from "./sse.js";

/** The HTTP layer's settings, resolved (defaults applied) once, by `createThreadline`. */
export interface HttpConfig {
  /** Maximum request body size in bytes. */
  maxBodyBytes: number;
  /** SSE keep-alive comment interval; undefined: the protocol's default. */
  keepaliveMs?: number;
  /** Cut off a follower unwritable this long; undefined: the default. */
  followerWriteTimeoutMs?: number;
  cors?: CorsOption;
  /** Extra `Host` names a loopback-bound server answers to. */
  allowedHosts: readonly string[];
  /** Serve the inspector page at `/`. */
  inspector: boolean;
  /** `GET /metrics` without the static token. */
  metricsOpen: boolean;
}

/**
 * Everything the routes use, and nothing else: the routes never see the `Threadline` object, its
 * options or its parts' internals. Built once by `createThreadline` (`src/threadline.ts`).
 */
export interface HttpDeps {
  store: ThreadStore;
  instanceId: string;
  follow(threadId: string, opts?: FollowOptions): Follow;
  startRun: Coordinator["startRun"];
  cancelRun: Coordinator["cancelRun"];
  updateThread(threadId: string, patch: ThreadPatch): Promise<ThreadSummary>;
  deleteThread(threadId: string): Promise<ThreadDeletion>;
  /** A signed link that answers one pending interrupt (PROTOCOL.md §3.1.10). */
  interruptLink(req: InterruptLinkRequest): Promise<InterruptLink>;
  agents: AgentDirectory;
  scheduler: Pick<Scheduler, "create" | "list" | "get" | "update" | "remove">;
  /** Webhooks (compiled by `hookRoutes`). */
  hooks: readonly HookConfig[];
  /** The one clock of the runtime (webhook timestamps here). */
  clock: SchedulerClock;
  /** Start-up recovery done; requests wait for it. */
  ready: Promise<void>;
  closing(): boolean;
  gate: AccessGate;
  telemetry: Telemetry;
  metrics?: ThreadlineMetrics;
  /** The user's logger, if one was given (request lines, failures). */
  logger?: Logger;
  /** The CopilotKit surface mounted at its base path, unless turned off. */
  copilotkit?: CopilotKitSurface;
  /** Where SSE bodies wait for `listen()`'s Node writer to take them over. */
  sse: SseHandoff;
  config: HttpConfig;
}
