import { Child } from "../lib/children.js";
import type { Context } from "./context.js";

/** A worker process (bench/procs/worker.ts) for the in-process measurements. */
export async function startWorker(name: string, preloadCopilotKit: boolean): Promise<Child> {
  return Child.start("worker.ts", {
    nodeArgs: ["--expose-gc", "--max-old-space-size=4096"],
    name: `worker(${name})`,
    ...(preloadCopilotKit ? { init: (c: Child) => c.call("preload", {}, 120_000) } : {}),
  });
}

/** A quick run's one worker, shared by every in-process subject; closed when the bench ends. */
export function quickWorker(ctx: Context): Promise<Child> {
  return ctx.resource(
    "quick-worker",
    () => startWorker("shared", true),
    (w) => w.kill(),
  );
}
