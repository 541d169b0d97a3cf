import { type ChildProcess, fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

/** Messages between the orchestrator and its child processes (structured-clone IPC). */
interface RpcRequest {
  id: number;
  cmd: string;
  args: unknown;
}
interface RpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const live = new Set<ChildProcess>();

/**
 * Start-ups are CPU-heavy (tsx, module loading): at most one per core at a time, so starting
 * many children does not starve each other past their ready timeout.
 */
const startSlots = {
  free: Math.max(1, availableParallelism()),
  waiting: [] as Array<() => void>,
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  },
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  },
};

/** Every child dies with the orchestrator, however it ends (error, Ctrl-C, timeout). */
function killAll(): void {
  for (const c of live) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export interface ChildOptions {
  /** Extra node flags (e.g. --expose-gc, --max-old-space-size). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Name used in error messages. */
  name?: string;
  startTimeoutMs?: number;
  /** More start-up work (e.g. preloading a slow module), done within the start-up slot. */
  init?: (child: Child) => Promise<unknown>;
}

/**
 * A bench child process (a script under bench/procs, run through tsx) answering RPC calls over
 * IPC. `call` rejects on a timeout, on an error reply, or when the child dies, naming the child
 * and quoting the end of its stderr, so a broken scenario fails loudly instead of hanging.
 */
export class Child {
  readonly name: string;
  private next = 1;
  private pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private stderr = "";
  private exited: { code: number | null; signal: string | null } | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly proc: ChildProcess,
    name: string,
  ) {
    this.name = name;
    proc.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    proc.stdout?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    proc.on("message", (m: RpcReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.exitPromise = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        live.delete(proc);
        this.exited = { code, signal };
        for (const p of this.pending.values()) p.reject(this.deathError());
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private deathError(): Error {
    const e = this.exited;
    return new Error(
      `${this.name} exited (code ${e?.code}, signal ${e?.signal}); its output ended with:\n${this.stderr.trim()}`,
    );
  }

  /** Starts `bench/procs/<script>` and waits for its `ready` call to answer. */
  static async start(script: string, opts: ChildOptions = {}): Promise<Child> {
    const file = fileURLToPath(new URL(`../procs/${script}`, import.meta.url));
    await startSlots.acquire();
    try {
      const proc = fork(file, [], {
        execArgv: ["--import", "tsx", ...(opts.nodeArgs ?? [])],
        env: { ...process.env, NODE_ENV: "production", ...opts.env },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        serialization: "advanced",
      });
      live.add(proc);
      const child = new Child(proc, opts.name ?? script.replace(/\.ts$/, ""));
      try {
        await child.call("ready", {}, opts.startTimeoutMs ?? 120_000);
        await opts.init?.(child);
      } catch (error) {
        await child.kill();
        throw error;
      }
      return child;
    } finally {
      startSlots.release();
    }
  }

  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(this.deathError());
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${cmd}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args } satisfies RpcRequest);
    });
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill("SIGKILL");
    await this.exitPromise;
  }
}

/** Starts several children in parallel; if one fails, the others are killed. */
export async function startAll(
  specs: Array<[script: string, opts?: ChildOptions]>,
): Promise<Child[]> {
  const settled = await Promise.allSettled(specs.map(([s, o]) => Child.start(s, o)));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === "fulfilled" ? s.value.kill() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<Child>).value);
}

/** Kills children, ignoring any that already died. */
export async function killAllOf(children: ReadonlyArray<Child | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.kill()));
}

type Handler = (args: never) => unknown;

/**
 * The child side: answers the orchestrator's calls with `handlers[cmd](args)`. Errors become
 * error replies. The child exits when the orchestrator goes away (IPC disconnect).
 */
export function serveRpc(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error("bench child started without IPC");
  const all: Record<string, Handler> = {
    ready: () => true,
    /** CPU time this process used so far, in ms (user + system). */
    cpu: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    /** This process's `performance.timeOrigin + performance.now()`: for clock-offset checks. */
    clock: () => performance.timeOrigin + performance.now(),
    ...handlers,
  };
  process.on("message", async (m: RpcRequest) => {
    const reply = (r: Omit<RpcReply, "id">) => process.send?.({ id: m.id, ...r });
    const handler = all[m.cmd];
    if (!handler) {
      reply({ ok: false, error: `unknown command '${m.cmd}'` });
      return;
    }
    try {
      reply({ ok: true, result: await handler(m.args as never) });
    } catch (error) {
      reply({
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

/**
 * Measures how busy processes were during `fn`: CPU time used ÷ wall time, per child (1.0 = one
 * core saturated). A load generator near 1.0 means it, not the server, may be the bottleneck.
 */
export async function withCpu<T>(
  children: readonly Child[],
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: number[] }> {
  const before = await Promise.all(children.map((c) => c.call<number>("cpu")));
  const t0 = performance.now();
  const result = await fn();
  const wall = performance.now() - t0;
  const after = await Promise.all(children.map((c) => c.call<number>("cpu")));
  return { result, cpu: after.map((a, i) => (a - before[i]!) / wall) };
}

/** Resident set size of a process in bytes, from the kernel's accounting (/proc/<pid>/status). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
