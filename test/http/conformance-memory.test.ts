import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { runServerConformance } from "../conformance/server-suite.js";

runServerConformance("memory store", async () => {
  const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  const server = await tl.listen({ port: 0 });
  return {
    baseUrl: server.url,
    compact: async (threadId, horizon) => {
      await tl.store.threads.compact(threadId, { horizon, endedBefore: 0 });
    },
    close: async () => {
      await server.close();
      await tl.close({ graceMs: 100 });
    },
  };
});
