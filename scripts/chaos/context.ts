import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../../test/helpers/server-process.js";
import { verifyWithAgUi } from "../../test/helpers/verify.js";
import type { Backend } from "./backends.js";
import { call, logBytes, readLog, runEnded, runsOf, startRun, TERMINAL, until } from "./http.js";

export const HOOK_ID = "chaos";
export const HOOK_SECRET = "chaos-secret";
/** The thread no attack touches: its log must be byte-identical after every attack. */
export const SENTINEL = "sentinel";
/** A follower that stops reading is cut off after this long (the default 30 s is for production). */
export const WRITE_TIMEOUT_MS = 1_500;

/** The config file every chaos server loads: a webhook and a short follower write timeout. */
export function writeConfig(dir: string): string {
  const path = join(dir, "chaos.config.mjs");
  writeFileSync(
    path,
    `export default ${JSON.stringify({
      hooks: [{ id: HOOK_ID, secret: HOOK_SECRET, agentId: "demo", thread: "hooked" }],
      followerWriteTimeoutMs: WRITE_TIMEOUT_MS,
    })};\n`,
  );
  return path;
}

/** The real CLI on one store, and what the checks after each attack need. */
export class ChaosContext {
  server!: ServerProcess;
  /** The sentinel's log (raw SSE bytes) before the attacks. */
  baseline = "";

  constructor(
    readonly backend: Backend,
    readonly configPath: string,
  ) {}

  get url(): string {
    return this.server.url;
  }

  /** `threadline serve` on the backend's store (a new instance when one runs already). */
  spawn(port = 0): Promise<ServerProcess> {
    return startServerProcess(
      [
        "--port",
        String(port),
        "--store",
        this.backend.spec,
        "--config",
        this.configPath,
        "--heartbeat-ms",
        "0",
        "--lease-ms",
        "2000",
        "--grace-ms",
        "500",
      ],
      {},
      { startTimeoutMs: 60_000 },
    );
  }

  async start(): Promise<void> {
    this.server = await this.spawn();
    const { body } = await startRun(this.url, SENTINEL, { tokens: 50, delayMs: 0 });
    await runEnded(this.url, SENTINEL, String(body.runId));
    this.baseline = await logBytes(this.url, SENTINEL);
  }

  /** The server after an attack that killed it or made it refuse to operate: a new process. */
  async restart(): Promise<void> {
    const port = this.server.port;
    if (this.server.child.exitCode === null) await this.server.kill9();
    this.server = await this.spawn(port);
  }

  async stop(): Promise<void> {
    if (this.server && this.server.child.exitCode === null) await this.server.stop();
  }

  // --- the columns --------------------------------------------------------------------------

  /** The process runs and answers /healthz within 2 s. */
  async alive(): Promise<boolean> {
    if (this.server.child.exitCode !== null || this.server.child.signalCode !== null) return false;
    try {
      const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** The untouched thread's log is byte-identical to the one before the attacks. */
  async intact(): Promise<boolean> {
    return (await logBytes(this.url, SENTINEL).catch(() => "")) === this.baseline;
  }

  /**
   * Every run of every thread ended (within 20 s), and every thread's log is gapless from seq 1
   * and passes `@ag-ui/client`'s verifier (0.0.59 and 1.x). Resolves with what failed, if any.
   */
  async runsValid(): Promise<string | undefined> {
    const listed = await call(this.url, "/threads?limit=1000");
    if (listed.status !== 200) return `GET /threads: ${listed.status}`;
    const threads = (listed.body.threads as { threadId: string }[]).map((t) => t.threadId);
    for (const threadId of threads) {
      try {
        await until(
          async () => (await runsOf(this.url, threadId)).every((r) => TERMINAL.has(r.status)),
          `the runs of ${threadId} to end`,
          20_000,
        );
        const log = await readLog(this.url, threadId);
        const gap = log.findIndex((r, i) => r.seq !== i + 1);
        if (gap >= 0) return `${threadId}: seq ${log[gap]!.seq} at position ${gap + 1}`;
        await verifyWithAgUi(log.map((r) => r.event));
      } catch (error) {
        return `${threadId}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    return undefined;
  }
}
