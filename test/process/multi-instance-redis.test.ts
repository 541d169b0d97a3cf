import { runMultiInstanceSuite } from "../conformance/multi-instance-suite.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const probe = await probeRedis();

describeWithService(probe, "multi-instance: redis", () => {
  runMultiInstanceSuite("redis", async () => {
    const prefix = freshPrefix("multi");
    const url = new URL(REDIS_URL);
    url.searchParams.set("prefix", prefix);
    return { spec: url.toString(), cleanup: () => dropPrefix(prefix) };
  });
});
