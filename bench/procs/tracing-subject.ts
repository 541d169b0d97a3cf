/**
 * Scenario "tracing" (issue 16): one Threadline in its own process, in one of the ways a user
 * may have OpenTelemetry — `noop` (`@opentelemetry/api` installed, no tracer provider: the API's
 * no-op spans), `off` (`tracing: false`: no span code runs), `absent` (the package cannot be
 * resolved at all: started with HIDE_MODULES), `sdk` (a real SDK provider whose exporter drops
 * the spans: what tracing costs when it is on). Each `measure` call runs the run/append/fan-out
 * path: runs of the scripted agent through the coordinator into the store, each event to
 * in-process followers.
 */
import type { Follow } from "../../src/core/follow.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { ScriptedAgent } from "../lib/agents.js";
import { serveRpc } from "../lib/children.js";
import { scratchDir } from "../lib/scratch.js";
import { now } from "../lib/script.js";
import { openStore } from "../lib/stores.js";

export type TracingVariant = "noop" | "off" | "absent" | "sdk";

let tl: Threadline | undefined;
let measureNo = 0;
const scratch = scratchDir("tracing");

function need(): Threadline {
  if (!tl) throw new Error("call start first");
  return tl;
}

/** Whether this process can load `@opentelemetry/api` (false under HIDE_MODULES). */
async function apiResolvable(): Promise<boolean> {
  try {
    await import("@opentelemetry/api");
    return true;
  } catch {
    return false;
  }
}

/** Loaded here only: the `absent` variant's process cannot import the API at all. */
async function registerDroppingSdk(): Promise<void> {
  const [{ trace }, sdk] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace-base"),
  ]);
  // Spans are made, processed and ended; the exporter drops them (no I/O in the measurement).
  const exporter: import("@opentelemetry/sdk-trace-base").SpanExporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  trace.setGlobalTracerProvider(
    new sdk.BasicTracerProvider({ spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] }),
  );
}

serveRpc({
  async start(a: { variant: TracingVariant; store: string }) {
    const resolvable = await apiResolvable();
    if (a.variant === "absent" && resolvable) throw new Error("@opentelemetry/api is not hidden");
    if (a.variant !== "absent" && !resolvable) throw new Error("@opentelemetry/api is missing");
    if (a.variant === "sdk") await registerDroppingSdk();
    const store = await openStore(a.store, scratch);
    tl = createThreadline({
      store,
      agents: { scripted: new ScriptedAgent() },
      metrics: false,
      ...(a.variant === "off" ? { tracing: false } : {}),
    });
    await tl.ready;
    // What the variant means, checked: spans are made (noop, sdk) or no span code is loaded.
    const traced = tl.coordinator.tracing !== undefined;
    if (traced !== (a.variant === "noop" || a.variant === "sdk")) {
      throw new Error(`variant ${a.variant}: tracing ${traced ? "loaded" : "not loaded"}`);
    }
    return { pid: process.pid, apiResolvable: resolvable, traced };
  },
  /**
   * `runs` runs of `events` events, one after another on a fresh thread with `followers`
   * in-process followers; resolves once every follower has the last run's RUN_FINISHED.
   * `detach`: this once without the process's span code (as `off`, in this same process).
   */
  async measure(a: { runs: number; events: number; followers: number; detach?: boolean }) {
    const t = need();
    const tracing = t.coordinator.tracing;
    if (a.detach) t.coordinator.tracing = undefined;
    try {
      return await measureOnce(t, a);
    } finally {
      t.coordinator.tracing = tracing;
    }
  },
});

/** One measurement (see `measure`). */
async function measureOnce(
  t: Threadline,
  a: { runs: number; events: number; followers: number },
): Promise<{ ms: number; cpuMs: number; events: number }> {
  const threadId = `trace-${process.pid}-${++measureNo}`;
  await t.store.threads.ensure(threadId);
  const follows: Follow[] = [];
  const seen: Promise<number>[] = [];
  for (let i = 0; i < a.followers; i++) {
    const f = t.follow(threadId, { replay: "none" });
    await f.open();
    follows.push(f);
    seen.push(
      (async () => {
        let finished = 0;
        let count = 0;
        for await (const item of f) {
          count++;
          if (item.event.type === "RUN_FINISHED" && ++finished === a.runs) break;
        }
        return count;
      })(),
    );
  }
  globalThis.gc?.();
  // CPU time as well as wall time: on a loaded machine the wall clock also counts the time the
  // process waited for a core, the CPU time only the work it did.
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let r = 0; r < a.runs; r++) {
    await t.startRun({
      threadId,
      agentId: "scripted",
      multitask: "enqueue",
      input: { forwardedProps: { bench: { events: a.events } } },
    });
    await t.coordinator.idle(threadId);
  }
  const counts = await Promise.all(seen);
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  for (const f of follows) f.close();
  const expected = a.runs * a.events;
  if (counts.some((c) => c !== expected)) {
    throw new Error(`a follower missed events: ${counts.join(",")} of ${expected}`);
  }
  await t.deleteThread(threadId);
  return { ms, cpuMs, events: expected };
}
