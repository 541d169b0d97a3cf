import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createThreadline } from "../../src/threadline.js";
import { runServerConformance } from "../conformance/server-suite.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";

const probe = await probePostgres();

describeWithService(probe, "postgres server", () => {
  runServerConformance("postgres store", async () => {
    const schema = freshSchema("http");
    const tl = createThreadline({
      store: await createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 5 } }),
      agents: { demo: new DemoAgent() },
    });
    const server = await tl.listen({ port: 0 });
    return {
      baseUrl: server.url,
      compact: async (threadId, horizon) => {
        await tl.store.threads.compact(threadId, { horizon, endedBefore: 0 });
      },
      close: async () => {
        await server.close();
        await tl.close({ graceMs: 100 });
        await dropSchema(schema);
      },
    };
  });
});
