import { createRedisStore } from "../../src/stores/redis/index.js";
import { runStoreConformance } from "../conformance/store-suite.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const probe = await probeRedis();
let prefix = "";

const open = () => createRedisStore({ url: REDIS_URL, prefix });

describeWithService(probe, "redis store", () => {
  runStoreConformance("redis", {
    async open() {
      prefix = freshPrefix("conf");
      return open();
    },
    reopen: open,
    peer: open,
    async cleanup() {
      await dropPrefix(prefix);
    },
  });
});
