import { type Child, killAllOf, startAll } from "../lib/children.js";
import { fmt } from "../lib/report.js";
import { median } from "../lib/stats.js";
import type { StoreLocation } from "../lib/stores.js";
import type { Context } from "./context.js";

/** Stores whose full replay is compared with the bare-script ceiling (bench/ceilings/replay.ts). */
const REPLAY_STORES = ["sqlite", "postgres", "redis"];

interface Drained {
  status: number;
  headersMs: number;
  ms: number;
  bytes: number;
  frames: number;
}

interface ReplayProcesses {
  /** One Threadline server per store, in `stores` order. */
  servers: Child[];
  stores: string[];
  ceiling: Child;
  client: Child;
}

function storesOf(ctx: Context): string[] {
  return REPLAY_STORES.filter((s) => ctx.opts.stores.includes(s) && !ctx.storeUnavailable(s));
}

/** A Threadline server per store, the ceiling server and one client (the load generator). */
export function replayProcesses(ctx: Context): Promise<ReplayProcesses> {
  return ctx.resource(
    "replay",
    async () => {
      const stores = storesOf(ctx);
      const children = await startAll([
        ...stores.map((s): [string, { nodeArgs: string[]; name: string }] => [
          "threadline-server.ts",
          { nodeArgs: ["--max-old-space-size=4096"], name: `threadline-server(${s})` },
        ]),
        ["replay-ceiling.ts", { name: "replay-ceiling" }],
        ["followers.ts", { name: "replay-client" }],
      ]);
      const client = children.pop()!;
      const ceiling = children.pop()!;
      return { servers: children, stores, ceiling, client };
    },
    (p) => killAllOf([...p.servers, p.ceiling, p.client]),
  );
}

/**
 * Scenario 4b (issue 18): the full replay of a long thread over HTTP (`?replay=full&follow=false`,
 * to the last byte) beside the bare-script ceiling streaming the same stored rows from the same
 * database as SSE frames, on each store. Same client process for both, alternating.
 */
export async function replayScenario(ctx: Context): Promise<void> {
  const sz = ctx.opts.sizes.attach;
  const total = sz.runs * sz.events;
  const reps = Math.max(3, ctx.opts.sizes.reps);
  const timeoutMs = 10 * 60_000;
  const rows: string[][] = [];
  const procs = await replayProcesses(ctx);
  try {
    for (const [i, store] of procs.stores.entries()) {
      const srv = procs.servers[i]!;
      try {
        const { url, location } = await srv.call<{ url: string; location: StoreLocation }>(
          "start",
          { store },
        );
        const threadId = "replay";
        const seeded = await srv.call<{ lastSeq: number; ms: number }>(
          "seed",
          { threadId, runs: sz.runs, events: sz.events, compact: false },
          timeoutMs,
        );
        const { url: ceilingUrl } = await procs.ceiling.call<{ url: string }>("open", { location });
        /** The stream read to its end; `cpuMs`: CPU time the serving process used meanwhile. */
        const drain = async (server: Child, base: string, path: string) => {
          const cpu0 = await server.call<number>("cpu", {});
          const r = await procs.client.call<Drained>(
            "drain",
            { url: base, path, timeoutMs: 5 * 60_000 },
            6 * 60_000,
          );
          const cpuMs = (await server.call<number>("cpu", {})) - cpu0;
          if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
          if (r.frames < seeded.lastSeq)
            throw new Error(`${path}: ${r.frames} frames, expected ${seeded.lastSeq}`);
          return { ...r, cpuMs };
        };
        const tlPath = `/threads/${threadId}/events?replay=full&follow=false`;
        const cPath = `/replay/${threadId}`;
        const tl: Array<Drained & { cpuMs: number }> = [];
        const ceil: Array<Drained & { cpuMs: number }> = [];
        // One unmeasured warm-up each, then alternating.
        for (let rep = 0; rep <= reps; rep++) {
          const a = await drain(srv, url, tlPath);
          const b = await drain(procs.ceiling, ceilingUrl, cPath);
          if (rep === 0) continue;
          tl.push(a);
          ceil.push(b);
        }
        const tlMs = median(tl.map((r) => r.ms));
        const cMs = median(ceil.map((r) => r.ms));
        ctx.log(`replay: ${store}: Threadline ${fmt(tlMs)} ms, ceiling ${fmt(cMs)} ms`);
        rows.push([
          store,
          fmt(seeded.lastSeq),
          `${fmt(tlMs)} (${fmt(Math.min(...tl.map((r) => r.ms)))}–${fmt(Math.max(...tl.map((r) => r.ms)))})`,
          `${fmt(cMs)} (${fmt(Math.min(...ceil.map((r) => r.ms)))}–${fmt(Math.max(...ceil.map((r) => r.ms)))})`,
          `${fmt(tl[0]!.bytes / 1024)} / ${fmt(ceil[0]!.bytes / 1024)}`,
          `${fmt(tl[0]!.frames)} / ${fmt(ceil[0]!.frames)}`,
          `${fmt(tlMs / cMs, 2)}×`,
          `${fmt(median(tl.map((r) => r.cpuMs)))} / ${fmt(median(ceil.map((r) => r.cpuMs)))}`,
          `${fmt(median(tl.map((r) => r.cpuMs)) / median(ceil.map((r) => r.cpuMs)), 2)}×`,
        ]);
        if (store === "sqlite" || store === "postgres") {
          ctx.report.target({
            scenario: "4b",
            text: `full replay of ${fmt(total)} events over HTTP on ${store} within 2× of the bare-script ceiling`,
            measured: `${fmt(tlMs / cMs, 2)}× (${fmt(tlMs)} vs ${fmt(cMs)} ms)`,
            met: tlMs / cMs <= 2,
          });
        }
      } catch (error) {
        ctx.fail(`replay (${store})`, error);
      }
    }
  } finally {
    await ctx.release("replay");
  }
  if (rows.length === 0) return;
  ctx.report.section({
    title: `4b. Full replay of a ${fmt(total)}-event thread over HTTP, beside the bare-script ceiling`,
    intro:
      `The thread: ${fmt(sz.runs)} runs × ${sz.events} events seeded through the store API, no run ` +
      `in progress. Threadline: \`GET /threads/:id/events?replay=full&follow=false\` read to its last ` +
      `byte by a raw node:http client in another process. Ceiling (bench/ceilings/replay.ts, its own ` +
      `process): the same rows read from the same database with the bare driver in pages of 5,000 ` +
      `(the next page prefetched), the stored JSON text written into \`id:\`/\`data:\` frames as is, ` +
      `64 KiB writes with backpressure, to the same client. Median (min–max) of ${reps} of each, ` +
      `alternating, after one unmeasured warm-up of each.`,
    headers: [
      "store",
      "events",
      "Threadline ms",
      "ceiling ms",
      "KiB: Threadline / ceiling",
      "frames: Threadline / ceiling",
      "Threadline ÷ ceiling",
      "CPU ms of the serving process: Threadline / ceiling",
      "CPU ÷",
    ],
    rows,
    notes: [
      "CPU ms: CPU time (user + system) the Threadline server process, or the ceiling's process, used while serving one replay (median); the database's own work is not in it. On a loaded machine it is the steadier figure: wall time also counts waiting for a core.",
    ],
  });
}
