import { forEachBackend } from "../backends.js";
import { runMultiInstanceSuite } from "../conformance/multi-instance-suite.js";

await forEachBackend(
  "multi-instance",
  (backend) => {
    runMultiInstanceSuite(backend.name, async () => {
      const data = await backend.fresh("multi");
      return { spec: data.spec!, cleanup: () => data.cleanup() };
    });
  },
  (b) => b.shared,
);
