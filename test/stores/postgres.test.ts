import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { runStoreConformance } from "../conformance/store-suite.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();
let schema = "";

const open = () => createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 4 } });

describeWithService(probe, "postgres store", () => {
  runStoreConformance("postgres", {
    async open() {
      schema = freshSchema("conf");
      return open();
    },
    reopen: open,
    peer: open,
    async cleanup() {
      await dropSchema(schema);
    },
  });
});
