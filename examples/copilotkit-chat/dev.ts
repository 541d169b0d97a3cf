/**
 * `npm run example:chat`: the CopilotKit chat example in one command.
 *
 * Uses the Threadline server at THREADLINE_URL (default http://127.0.0.1:8787) when one answers
 * there; otherwise starts one the way `npm start` does — the real CLI, SQLite in `.threadline/`,
 * the demo agent and its heartbeat on thread `demo` (every 10 s here; THREADLINE_DEMO_HEARTBEAT_MS)
 * — then serves the page with Vite's dev server and prints where to open it. The page is the
 * stock CopilotKit chat (`runtimeUrl` = `<server>/copilotkit`) unless `?mode=threadline`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

const serverUrl = (process.env.THREADLINE_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const heartbeatMs = process.env.THREADLINE_DEMO_HEARTBEAT_MS ?? "10000";
const repo = fileURLToPath(new URL("../..", import.meta.url));

async function healthy(): Promise<boolean> {
  try {
    const res = await fetch(`${serverUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The page is served by Vite on another origin than the API, and a Threadline server allows no
 * foreign origin unless told so: it is started with `--cors` naming the page's origins.
 */
async function startThreadline(origins: string[]): Promise<ChildProcess> {
  const { hostname, port } = new URL(serverUrl);
  const args = ["--import", "tsx", "src/cli/main.ts", "serve", "--host", hostname];
  args.push("--port", port || "8787", "--heartbeat-ms", heartbeatMs, "--cors", origins.join(","));
  const child = spawn(process.execPath, args, { cwd: repo, stdio: "inherit" });
  const deadline = Date.now() + 30_000;
  while (!(await healthy())) {
    if (child.exitCode !== null) throw new Error(`threadline serve exited (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`no Threadline server came up at ${serverUrl}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return child;
}

/** Whether a server we did not start lets the page call it (a 403 names the missing flag). */
async function allowsOrigin(origin: string): Promise<boolean> {
  const res = await fetch(`${serverUrl}/info`, { headers: { Origin: origin } }).catch(() => null);
  return res?.status !== 403;
}

// Vite exposes VITE_* variables of the environment to the page (see src/config.ts).
process.env.VITE_THREADLINE_URL ??= serverUrl;
const vite = await createServer({
  configFile: fileURLToPath(new URL("./vite.config.ts", import.meta.url)),
});
await vite.listen();
const page = vite.resolvedUrls?.local[0] ?? "http://localhost:5173/";
const { port: pagePort, protocol } = new URL(page);
// The same page may be opened as localhost or 127.0.0.1.
const origins = [`${protocol}//localhost:${pagePort}`, `${protocol}//127.0.0.1:${pagePort}`];
const server = (await healthy()) ? undefined : await startThreadline(origins);
if (!server && !(await allowsOrigin(origins[0]!))) {
  process.stdout.write(
    `\nThe Threadline server at ${serverUrl} refuses this page's origin. Restart it with\n` +
      `  --cors ${origins.join(",")}\n`,
  );
}
process.stdout.write(
  `\nThreadline: ${serverUrl}${server ? " (started for you)" : ""}\n` +
    `Chat:       ${page}?thread=demo  (stock CopilotKit client, runtimeUrl ${serverUrl}/copilotkit:\n` +
    "            the demo heartbeat answers by itself; type to chat)\n" +
    `Thread list: ${page}?thread=demo&threads=1\n` +
    `Interrupts:  ${page}?thread=hitl&interrupt=1  (each reply asks; answer in the chat)\n` +
    `ThreadlineAgent client: ${page}?thread=demo&mode=threadline\n\n`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await vite.close();
  server?.kill("SIGTERM");
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
