import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ENV = "THREADLINE_BENCH_SCRATCH";

/**
 * The orchestrator's scratch root (SQLite files and the like), created once and removed when it
 * exits — children are killed with SIGKILL, so they cannot be trusted to clean up after
 * themselves. Children inherit it through the environment.
 */
export function createScratchRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "threadline-bench-"));
  process.env[ENV] = root;
  process.once("exit", () => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** A fresh directory for this process under the orchestrator's scratch root. */
export function scratchDir(name: string): string {
  let root = process.env[ENV];
  if (!root) root = createScratchRoot();
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `${name}-${process.pid}-`));
}
