import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * PostgreSQL and Redis servers of our own, on free ports, for fault tests that restart or stop
 * them: the shared services on 5432/6379 serve other test runs and must never be restarted.
 * Both start from the Debian binaries (no download); PostgreSQL refuses to run as root, so as
 * root its commands run as the `postgres` user (runuser, else su).
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- PostgreSQL --------------------------------------------------------------------------

/** The directory of Debian's PostgreSQL server binaries (initdb, pg_ctl), newest version. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** argv that runs `cmd` as the postgres user when we are root. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [cmd, args];
  if (existsSync("/usr/sbin/runuser") || existsSync("/sbin/runuser")) {
    return ["runuser", ["-u", "postgres", "--", cmd, ...args]];
  }
  const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return ["su", ["postgres", "-s", "/bin/sh", "-c", quoted]];
}

function runAsPostgres(cmd: string, args: string[]): string {
  const [file, argv] = asPostgres(cmd, args);
  return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  url: string;
  port: number;
  /** Stops the server (`fast`: sessions are terminated, `immediate`: like a crash). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/**
 * A throw-away PostgreSQL cluster: initdb into a temporary directory (trust auth, no fsync),
 * listening on 127.0.0.1 at a free port. Throws saying why when it cannot (no binaries, no
 * postgres user to run them as).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin");
  const dir = mkdtempSync(join(tmpdir(), "threadline-pg-"));
  // initdb refuses to run as root; the postgres user must own (and reach) the directory.
  if (isRoot()) {
    chmodSync(dir, 0o777);
    execFileSync("chown", ["postgres", dir]);
  }
  const data = join(dir, "data");
  const port = await freePort();
  try {
    runAsPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`initdb failed${isRoot() ? " (run as user postgres)" : ""}: ${stderr.trim()}`);
  }
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -k ${dir} -c fsync=off -c max_connections=50`;
  const ctl = (args: string[]) => runAsPostgres(join(bin, "pg_ctl"), ["-D", data, ...args]);
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      ctl(["-o", options, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
    },
    async stop(mode = "fast") {
      ctl(["-m", mode, "-w", "-t", "30", "stop"]);
    },
    async restart(mode = "fast") {
      await pg.stop(mode);
      await pg.start();
    },
    async destroy() {
      try {
        ctl(["-m", "immediate", "-w", "-t", "30", "stop"]);
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

// --- Redis -------------------------------------------------------------------------------

export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and starts a new one on the same port: without persistence,
   * every key is gone — what a Redis restarted without `appendonly`/RDB looks like. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of our own on a free port, keeping nothing on disk. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "threadline-redis-"));
  let child: ChildProcess | undefined;
  const ping = () =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("data", (d: Buffer) => {
        socket.destroy();
        resolve(d.toString().startsWith("+PONG"));
      });
      socket.once("error", () => resolve(false));
      socket.write("PING\r\n");
    });
  const start = async () => {
    const argv = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ];
    child = spawn("redis-server", [...argv, "--dir", dir], { stdio: "ignore" });
    const exited = new Promise<never>((_, reject) =>
      child!.once("exit", (code) => reject(new Error(`redis-server exited (${code})`))),
    );
    exited.catch(() => undefined);
    await Promise.race([until(ping, `redis-server on ${port}`, 10_000), exited]);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await gone;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await stop();
      await start();
    },
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
