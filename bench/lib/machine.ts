import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  loadAvg: string;
  ulimitNofile: string;
  packages: Record<string, string>;
  commit: string;
  command: string;
  date: string;
}

function version(pkg: string): string {
  try {
    const url = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

/** The facts a reader needs to judge the numbers: hardware, load, versions, the command. */
export function machineFacts(argv: readonly string[]): Machine {
  const cpus = os.cpus();
  const self = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  const packages: Record<string, string> = { threadline: self.version };
  for (const p of [
    "@ag-ui/client",
    "@ag-ui/core",
    "@copilotkit/runtime",
    "hono",
    "@hono/node-server",
    "better-sqlite3",
    "pg",
    "ioredis",
    "rxjs",
    "tsx",
  ]) {
    packages[p] = version(p);
  }
  return {
    cpu: cpus[0]?.model ?? "?",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAvg: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
    ulimitNofile: sh("sh", ["-c", "ulimit -n"]),
    packages,
    commit: `${sh("git", ["rev-parse", "--short", "HEAD"])}${sh("git", ["status", "--porcelain"]) ? " (uncommitted changes)" : ""}`,
    command: ["npm run bench", ...(argv.length ? ["--", ...argv] : [])].join(" "),
    date: new Date().toISOString(),
  };
}
