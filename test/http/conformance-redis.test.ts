import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { createThreadline } from "../../src/threadline.js";
import { runServerConformance } from "../conformance/server-suite.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const probe = await probeRedis();

describeWithService(probe, "redis server", () => {
  runServerConformance("redis store", async () => {
    const prefix = freshPrefix("http");
    const tl = createThreadline({
      store: await createRedisStore({ url: REDIS_URL, prefix }),
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
        await dropPrefix(prefix);
      },
    };
  });
});
