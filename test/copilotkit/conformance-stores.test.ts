import { forEachBackend } from "../backends.js";
import { runCopilotKitConformance } from "../conformance/copilotkit-suite.js";

await forEachBackend("copilotkit", (backend) => {
  runCopilotKitConformance(`${backend.name} store`, async () => {
    const data = await backend.fresh("ck");
    return { store: await data.open(), cleanup: () => data.cleanup() };
  });
});
