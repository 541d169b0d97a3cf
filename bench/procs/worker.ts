/**
 * The in-process worker: measures scenario 1 (append) and scenario 4 (attach, in-process) for
 * the subjects the orchestrator names, each call in this one process. A full run gives every
 * subject its own worker; a quick run shares one to save start-up time.
 */
import { serveRpc } from "../lib/children.js";
import { loadCopilotKit } from "../lib/copilotkit.js";
import { appendCommands } from "./append-measure.js";
import { attachCommands } from "./attach-measure.js";
import { ceilingCommands } from "./ceiling-measure.js";

serveRpc({
  ...appendCommands,
  ...attachCommands,
  ...ceilingCommands,
  /** CopilotKit's runtime takes seconds to load: done before any clock starts. */
  preload: () => loadCopilotKit().then(() => true),
});
