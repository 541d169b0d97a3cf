import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { createThreadline } from "../../src/threadline.js";
import { runServerConformance } from "../conformance/server-suite.js";

runServerConformance("sqlite store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "threadline-conf-"));
  const tl = createThreadline({
    store: createSqliteStore({ path: join(dir, "t.db") }),
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
