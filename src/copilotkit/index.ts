/**
 * `threadline/copilotkit`: a CopilotKit v2 `AgentRunner` backed by Threadline. Requires the
 * optional peer dependency `@copilotkit/runtime` (>= 1.75), imported only from this subpath.
 */

export type { CopilotKitSurfaceOptions } from "../copilotkit-surface/surface.js";
export { HEADER_AFTER, HEADER_FOLLOW, HEADER_REPLAY } from "../protocol.js";
export type { RunnerPrincipal, RunnerRequestContext } from "./runner-requests.js";
export {
  ThreadlineAgentRunner,
  type ThreadlineAgentRunnerOptions,
  type ThreadlineBackend,
} from "./threadline-agent-runner.js";
export {
  attachThreadlineSocket,
  type ThreadlineSurfaceSource,
  type WithThreadline,
  withThreadline,
} from "./with-threadline.js";
