import { runServerConformance, type ServerUnderTest } from "../conformance/server-suite.js";
import { startServerProcess } from "../helpers/server-process.js";

/**
 * The HTTP conformance suite against a server at a URL, as PROTOCOL.md promises:
 *
 *   THREADLINE_CONFORMANCE_URL=http://127.0.0.1:8787 [THREADLINE_CONFORMANCE_TOKEN=...] \
 *     npm run test:conformance
 *
 * checks any running server (it needs the built-in `demo` agent; it creates threads of its own).
 * Without the variable, it checks a `threadline serve --store memory:` child process, the
 * shutdown cases included (SIGTERM).
 */
const url = process.env.THREADLINE_CONFORMANCE_URL;
const token = process.env.THREADLINE_CONFORMANCE_TOKEN;

if (url) {
  runServerConformance(url, async (): Promise<ServerUnderTest> => {
    return { baseUrl: url.replace(/\/+$/, ""), ...(token ? { token } : {}), close: async () => {} };
  });
} else {
  runServerConformance(
    "threadline serve (a child process, memory store)",
    async () => {
      const server = await startServerProcess([
        "--port",
        "0",
        "--store",
        "memory:",
        "--heartbeat-ms",
        "0",
        "--grace-ms",
        "500",
      ]);
      let stopped: Promise<number | null> | undefined;
      const stop = () => {
        stopped ??= server.stop();
        return stopped;
      };
      return {
        baseUrl: server.url,
        shutdown: async () => {
          const code = await stop();
          if (code !== 0) throw new Error(`exit code ${code}:\n${server.output()}`);
        },
        close: async () => {
          await stop();
        },
      };
    },
    { shutdown: true },
  );
}
