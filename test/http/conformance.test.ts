import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createThreadline } from "../../src/threadline.js";
import { forEachBackend } from "../backends.js";
import { runServerConformance } from "../conformance/server-suite.js";

/** The HTTP conformance suite against an in-process server on every store. */
await forEachBackend("server", (backend) => {
  runServerConformance(
    `${backend.name} store`,
    async () => {
      const data = await backend.fresh("http");
      const tl = createThreadline({ store: await data.open(), agents: { demo: new DemoAgent() } });
      const server = await tl.listen({ port: 0 });
      const stop = (graceMs: number) => tl.close({ graceMs });
      return {
        baseUrl: server.url,
        compact: async (threadId, horizon) => {
          await tl.store.threads.compact(threadId, { horizon, endedBefore: 0 });
        },
        // What SIGTERM does (src/cli/main.ts): the runtime closes its servers last.
        shutdown: () => stop(500),
        close: async () => {
          if (!tl.closing) await stop(100);
          await data.cleanup();
        },
      };
    },
    { shutdown: true, compaction: true },
  );
});
