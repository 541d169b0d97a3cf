import { createRedisStore } from "../../src/stores/redis/index.js";
import { runTriggerConformance } from "../conformance/trigger-suite.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const probe = await probeRedis();

describeWithService(probe, "redis triggers", () => {
  runTriggerConformance("redis", () => {
    const prefix = freshPrefix("trig");
    return {
      open: () => createRedisStore({ url: REDIS_URL, prefix }),
      dispose: () => dropPrefix(prefix),
    };
  });
});
