import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { runTriggerConformance } from "../conformance/trigger-suite.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();

describeWithService(probe, "postgres triggers", () => {
  runTriggerConformance("postgres", () => {
    const schema = freshSchema("trig");
    return {
      open: () => createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 4 } }),
      dispose: () => dropSchema(schema),
    };
  });
});
