import { type Child, killAllOf, startAll } from "../lib/children.js";
import { fmt } from "../lib/report.js";
import { median } from "../lib/stats.js";
import type { AttachSample } from "../procs/attach-measure.js";
import type { Context } from "./context.js";
import { quickWorker, startWorker } from "./workers.js";

interface Row {
  subject: string;
  replay: string;
  stored: string;
  samples: AttachSample[];
  extra?: string;
}

type WorkerResult = { stored: number; seedMs: number; samples: Record<string, AttachSample[]> };

/**
 * Scenario 4: attach to a thread with a long history while a run is in progress; time from the
 * request to the first live event. In-process for Threadline (`follow`) and CopilotKit
 * (`runner.connect`), and over HTTP for Threadline (the load generator is the client).
 */
type Subject = [label: string, cmd: string, args: Record<string, unknown>];

/** The in-process subjects: Threadline's follow() on each available store, CopilotKit's connect. */
function subjects(ctx: Context): Subject[] {
  const out: Subject[] = [];
  for (const store of ctx.opts.stores) {
    if (ctx.storeUnavailable(store)) continue;
    out.push([
      `Threadline + ${store}, follow()`,
      "attachThreadline",
      { store, modes: ["compact", "full"] },
    ]);
  }
  out.push([
    "CopilotKit runner.connect (default: keeps the last 100 runs)",
    "attachCopilotKit",
    { uncapped: false },
  ]);
  out.push([
    "CopilotKit runner.connect (maxRunsPerThread: Infinity)",
    "attachCopilotKit",
    { uncapped: true },
  ]);
  return out;
}

interface AttachProcesses {
  /** Settled starts of the workers; `workers[i]` serves `subjects()[i]` (a quick run shares one). */
  workers: Array<PromiseSettledResult<Child>>;
  /** The Threadline server and the load generator for the HTTP measurement. */
  http: PromiseSettledResult<Child[]>;
}

/** Starts the scenario's processes in parallel (CopilotKit preloaded: it is slow to load). */
export function attachProcesses(ctx: Context): Promise<AttachProcesses> {
  const all = (p: AttachProcesses) => [
    ...(ctx.opts.quick
      ? []
      : p.workers.map((w) => (w.status === "fulfilled" ? w.value : undefined))),
    ...(p.http.status === "fulfilled" ? p.http.value : []),
  ];
  return ctx.resource(
    "attach",
    async () => {
      const list = subjects(ctx);
      const [http, ...settled] = await Promise.allSettled([
        startAll([
          [
            "threadline-server.ts",
            { nodeArgs: ["--max-old-space-size=4096"], name: "threadline-server" },
          ],
          ["followers.ts", { name: "load-generator" }],
        ]),
        ...(ctx.opts.quick
          ? [quickWorker(ctx)]
          : list.map(([label, cmd]) => startWorker(label, cmd === "attachCopilotKit"))),
      ]);
      const workers = list.map((_, i) => settled[ctx.opts.quick ? 0 : i]!) as Array<
        PromiseSettledResult<Child>
      >;
      return { workers, http: http as PromiseSettledResult<Child[]> };
    },
    (p) => killAllOf(all(p)),
  );
}

export async function attachScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.attach;
  const reps = Math.max(3, ctx.opts.sizes.reps * 2);
  const total = sz.runs * sz.events;
  const rows: Row[] = [];
  const timeoutMs = 10 * 60_000;
  const procs = await attachProcesses(ctx);
  const inProcess = subjects(ctx);
  try {
    for (const [i, [label, cmd, args]] of inProcess.entries()) {
      const started = procs.workers[i]!;
      try {
        if (started.status === "rejected") throw started.reason;
        const r = await started.value.call<WorkerResult>(
          cmd,
          { runs: sz.runs, events: sz.events, reps, ...args },
          timeoutMs,
        );
        ctx.log(`attach: ${label} done`);
        for (const [mode, samples] of Object.entries(r.samples)) {
          rows.push({
            subject: `in-process: ${label}`,
            replay: mode,
            stored:
              cmd === "attachCopilotKit"
                ? `${fmt(r.stored)} runs kept (compacted)`
                : `${fmt(r.stored)} events`,
            samples,
          });
        }
      } catch (error) {
        ctx.fail(`attach (${label})`, error);
      } finally {
        if (!ctx.opts.quick && started.status === "fulfilled") await started.value.kill();
      }
    }
  } finally {
    if (!ctx.opts.quick) {
      for (const w of procs.workers) if (w.status === "fulfilled") await w.value.kill();
    }
  }

  // Over HTTP: the Threadline server process, one client in the load generator process.
  try {
    if (procs.http.status === "rejected") throw procs.http.reason;
    const children = procs.http.value;
    const [srv, gen] = children as [Child, Child];
    const { url } = await srv.call<{ url: string }>("start", { store: "memory" });
    const threadId = "attach-http";
    const seeded = await srv.call<{ lastSeq: number }>(
      "seed",
      { threadId, runs: sz.runs, events: sz.events, compact: false },
      timeoutMs,
    );
    const { runId } = await srv.call<{ runId: string }>("run", {
      threadId,
      events: 1_000_000_000,
      rate: 1000,
    });
    await new Promise((r) => setTimeout(r, 50));
    for (const mode of ["compact", "full"]) {
      const samples: Array<AttachSample & { bytes: number; headersMs: number }> = [];
      for (let i = 0; i <= reps; i++) {
        const r = await gen.call<{
          headersMs: number;
          firstLiveMs: number;
          frames: number;
          bytes: number;
        }>(
          "attach",
          { url, path: `/threads/${threadId}/events?replay=${mode}`, timeoutMs: 60_000 },
          70_000,
        );
        if (i > 0)
          samples.push({
            ms: r.firstLiveMs,
            before: r.frames - 1,
            bytes: r.bytes,
            headersMs: r.headersMs,
          });
      }
      rows.push({
        subject: "HTTP SSE: Threadline GET /threads/:id/events",
        replay: mode,
        stored: `${fmt(seeded.lastSeq)} events`,
        samples,
        extra: `headers after ${fmt(median(samples.map((s) => s.headersMs)), 1)} ms, ${fmt(median(samples.map((s) => s.bytes)) / 1024)} KiB received`,
      });
    }
    await srv.call("cancel", { threadId, runId });
  } catch (error) {
    ctx.fail("attach over HTTP", error);
  } finally {
    await ctx.release("attach");
  }

  ctx.report.section({
    title: `4. Attach: time from request to the first live event, thread with ${fmt(total)} stored events`,
    intro:
      `History: ${fmt(sz.runs)} runs × ${sz.events} events, then a run in progress streaming 1,000 ` +
      `stamped tokens/s. "First live event" = the first event stamped at or after the attach began. ` +
      `Threadline keeps every event (compact replay = a snapshot of messages and state plus the ` +
      `re-opened run in progress; full = every stored event). CopilotKit's runner stores each run ` +
      `compacted and its connect replays the compacted history, then bridges the run in progress ` +
      `(its ticker run is given no history, so that CopilotKit's per-event message copying does not load the process). ` +
      `The run in progress keeps streaming through all attaches, so its backlog grows (it is replayed in full mode). ` +
      `Median (min–max) of ${reps} attaches, after one unmeasured warm-up attach.`,
    headers: [
      "subject",
      "replay",
      "history held",
      "first live event ms",
      "min–max ms",
      "events before it",
      "notes",
    ],
    rows: rows.map((r) => {
      const ms = r.samples.map((s) => s.ms);
      return [
        r.subject,
        r.replay,
        r.stored,
        fmt(median(ms), 1),
        `${fmt(Math.min(...ms), 1)}–${fmt(Math.max(...ms), 1)}`,
        fmt(median(r.samples.map((s) => s.before))),
        r.extra ?? "",
      ];
    }),
  });
}
