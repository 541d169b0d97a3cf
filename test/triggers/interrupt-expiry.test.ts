import { forEachBackend } from "../backends.js";
import { runExpiryConformance } from "../conformance/expiry-suite.js";

// Every store, PostgreSQL and Redis included: the three-instance cases share one private schema
// or key prefix, as three servers would.
await forEachBackend("interrupt expiry", (backend) => {
  runExpiryConformance(backend.name, async () => {
    const data = await backend.fresh("expiry");
    return { open: () => data.open(), dispose: () => data.cleanup() };
  });
});
