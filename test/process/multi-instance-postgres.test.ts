import { runMultiInstanceSuite } from "../conformance/multi-instance-suite.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();

describeWithService(probe, "multi-instance: postgres", () => {
  runMultiInstanceSuite("postgres", async () => {
    const schema = freshSchema("multi");
    const url = new URL(PG_URL);
    url.searchParams.set("schema", schema);
    return { spec: url.toString(), cleanup: () => dropSchema(schema) };
  });
});
