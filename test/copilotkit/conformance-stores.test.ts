import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { runCopilotKitConformance } from "../conformance/copilotkit-suite.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import {
  describeWithService,
  PG_URL,
  probePostgres,
  probeRedis,
  REDIS_URL,
} from "../helpers/services.js";

runCopilotKitConformance("memory store", async () => ({
  store: createMemoryStore(),
  cleanup: async () => undefined,
}));

runCopilotKitConformance("sqlite store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "threadline-ck-"));
  return {
    store: createSqliteStore({ path: join(dir, "t.db") }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeWithService(await probePostgres(), "postgres", () => {
  runCopilotKitConformance("postgres store", async () => {
    const schema = freshSchema("ck");
    return {
      store: await createPostgresStore({ connectionString: PG_URL, schema, pool: { max: 5 } }),
      cleanup: () => dropSchema(schema),
    };
  });
});

describeWithService(await probeRedis(), "redis", () => {
  runCopilotKitConformance("redis store", async () => {
    const prefix = freshPrefix("ck");
    return {
      store: await createRedisStore({ url: REDIS_URL, prefix }),
      cleanup: () => dropPrefix(prefix),
    };
  });
});
