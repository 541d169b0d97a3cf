#!/usr/bin/env node
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ThreadlineError } from "../core/errors.js";
import { DemoAgent } from "../demo/demo-agent.js";
import { DEMO_HEARTBEAT_ID, demoHeartbeat } from "../demo/demo-heartbeat.js";
import { captureConsole } from "../observability/console-capture.js";
import { createThreadline } from "../threadline.js";
import { parseServeArgs, USAGE } from "./args.js";
import { loadConfig } from "./config.js";
import { createCliLogger } from "./logger.js";
import { installProcessGuards } from "./process-guards.js";
import { openStore, redactSpec } from "./store-spec.js";

async function serve(argv: string[]): Promise<void> {
  const args = parseServeArgs(argv, process.env);
  const log = createCliLogger(args.logLevel);
  const { logger } = log;
  // Third-party output (@ag-ui/client prints failures with their stacks) joins the JSON log.
  captureConsole(logger);
  // Before the server listens, a fatal error has nothing to drain: log it and exit.
  let onFatal = (_reason: string) => void log.close(100).finally(() => process.exit(1));
  installProcessGuards(logger, (reason) => onFatal(reason));
  const config = await loadConfig(args.config, process.cwd());
  const storeSpec = args.storeFrom === "default" ? (config.store ?? args.store) : args.store;
  if (storeSpec.startsWith("sqlite:")) {
    mkdirSync(dirname(storeSpec.slice("sqlite:".length)), { recursive: true });
  }
  const store = await openStore(storeSpec, {
    onError: (error) => logger.warn({ err: error }, "store background error"),
  });
  const agents = { ...(args.demo ? { demo: new DemoAgent() } : {}), ...config.agents };
  if (Object.keys(agents).length === 0) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      "no agents: add some in the config file or drop --no-demo",
    );
  }
  const heartbeat = args.heartbeatMs > 0 ? [demoHeartbeat({ everyMs: args.heartbeatMs })] : [];
  const tl = createThreadline({
    ...config,
    schedules: [...heartbeat, ...(config.schedules ?? [])],
    store,
    agents,
    logger,
    ...(args.token ? { token: args.token } : {}),
    ...(args.jwt ? { jwt: args.jwt } : {}),
    ...(args.leaseMs === undefined ? {} : { leaseMs: args.leaseMs }),
    ...(args.instanceId ? { instanceId: args.instanceId } : {}),
    ...(args.copilotkitSecret
      ? { copilotkit: { ...config.copilotkit, secret: args.copilotkitSecret } }
      : {}),
    ...(args.cors === undefined ? {} : { cors: args.cors }),
    ...(config.metrics === false ? {} : { metrics: { processMetrics: true, ...config.metrics } }),
    ...(args.allowedHosts ? { allowedHosts: args.allowedHosts } : {}),
    ...(args.interruptExpiry
      ? { interrupts: { ...config.interrupts, onExpiry: args.interruptExpiry } }
      : {}),
    // Flags set single limits over the config file's retention.
    ...(args.retention ? { retention: { ...config.retention, ...args.retention } } : {}),
  });
  // The demo thread exists from the start, so the README's first `curl` has something to follow.
  if (args.demo) await store.threads.ensure("demo", { demo: true });
  // Schedules persist: a heartbeat switched off must also leave the store, or it keeps firing.
  if (heartbeat.length === 0) {
    await tl.ready;
    await tl.scheduler.remove(DEMO_HEARTBEAT_ID).catch(() => undefined);
  }
  const server = await tl.listen({ host: args.host, port: args.port });
  logger.info(
    {
      url: server.url,
      store: redactSpec(storeSpec),
      agents: Object.keys(agents),
      auth: Boolean(args.token ?? config.token),
      jwt: Boolean(args.jwt ?? config.jwt),
      instanceId: tl.coordinator.instanceId,
    },
    `Threadline listening on ${server.url}`,
  );
  if (tl.copilotkit) {
    logger.info(`CopilotKit runtimeUrl: ${server.url}${tl.copilotkit.basePath}`);
  }

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      void log.close(100).finally(() => process.exit(1));
    }, args.graceMs + 10_000);
    force.unref();
    await tl.close({ graceMs: args.graceMs });
    logger.info("stopped");
    // Exit must not wait on stdout (a closed pipe, a reader that stopped reading).
    await log.close();
    process.exit(exitCode);
  };
  onFatal = (reason) => void stop(reason, 1);
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** The package's version (package.json sits two levels up from both src/cli and dist/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return String((pkg as { version?: unknown }).version);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (
    !command ||
    command === "-h" ||
    command === "--help" ||
    rest.includes("--help") ||
    rest.includes("-h")
  ) {
    process.stdout.write(USAGE);
    return;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command !== "serve")
    throw new ThreadlineError("BAD_REQUEST", `unknown command '${command}'\n${USAGE}`);
  await serve(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`threadline: ${message}\n`);
  process.exit(2);
});
