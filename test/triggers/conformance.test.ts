import { forEachBackend } from "../backends.js";
import { runTriggerConformance } from "../conformance/trigger-suite.js";

await forEachBackend("triggers", (backend) => {
  runTriggerConformance(backend.name, async () => {
    const data = await backend.fresh("trig");
    return { open: () => data.open(), dispose: () => data.cleanup() };
  });
});
