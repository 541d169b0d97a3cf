/**
 * threadline — durable AG-UI agent threads.
 * Subpaths: `threadline/client` (browser-safe), `threadline/copilotkit`, `threadline/stores/*`.
 */
export { defineConfig, type ThreadlineConfig } from "./cli/define-config.js";
export {
  type AgentSource,
  Coordinator,
  type RunInputCheck,
  type StartRunRequest,
  type StartRunResult,
} from "./core/coordinator.js";
export { ThreadlineError } from "./core/errors.js";
export type { ExpiryOptions } from "./core/expiry-settings.js";
export { Follow, type FollowItem, type FollowOptions } from "./core/follow.js";
export {
  EXPIRY_ACTIONS,
  EXPIRY_SOURCE,
  type ExpiryAction,
  expiryDueAt,
} from "./core/interrupt-expiry.js";
export type { AnswerStatus, InterruptLink, InterruptLinkRequest } from "./core/interrupt-link.js";
export type { Logger } from "./core/logger.js";
export {
  ManualClock,
  type ScheduleInput,
  type ScheduleRecord,
  type SchedulerClock,
} from "./core/scheduler/index.js";
export type { CommitListener, CommitNotice, ThreadStore } from "./core/store.js";
export type * from "./core/types.js";
export { DEMO_LIMITS, DemoAgent, type DemoScript } from "./demo/demo-agent.js";
export { DEMO_HEARTBEAT_ID, demoHeartbeat } from "./demo/demo-heartbeat.js";
export type { AuthorizeContext, AuthorizeHook } from "./http/auth.js";
export type { HookConfig, HookDelivery } from "./http/hooks/hook-config.js";
export { signWebhook } from "./http/hooks/signature.js";
export { safeThreadId } from "./http/hooks/thread-id.js";
export {
  BUILTIN_VERIFIERS,
  type BuiltinVerifierName,
  githubVerifier,
  standardWebhooksVerifier,
  stripeVerifier,
  threadlineVerifier,
  type VerifiedWebhook,
  type WebhookRequest,
  type WebhookVerifier,
} from "./http/hooks/verifiers.js";
export * from "./protocol.js";
export {
  createThreadline,
  type ListenOptions,
  type Threadline,
  type ThreadlineOptions,
} from "./threadline.js";
