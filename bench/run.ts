/**
 * `npm run bench [-- --quick]`: Threadline beside CopilotKit's runner and a raw node:http
 * ceiling, every scenario in one run, load generators in their own processes. Prints tables
 * as it goes and writes bench/RESULTS.md. See bench/README.md.
 */
import { writeFileSync } from "node:fs";
import { machineFacts } from "./lib/machine.js";
import { parseOptions, type ScenarioName } from "./lib/options.js";
import { fmt, mark, Report, renderMarkdownTable } from "./lib/report.js";
import { createScratchRoot } from "./lib/scratch.js";
import { storeAvailability } from "./lib/stores.js";
import { appendScenario, appendWorkers } from "./scenarios/append.js";
import { attachProcesses, attachScenario } from "./scenarios/attach.js";
import { Context } from "./scenarios/context.js";
import { fanoutScenario, targetsFor } from "./scenarios/fanout.js";
import { heartbeatScenario } from "./scenarios/heartbeat.js";
import { idleScenario } from "./scenarios/idle.js";
import { replayProcesses, replayScenario } from "./scenarios/replay.js";
import { scaleoutScenario } from "./scenarios/scaleout.js";
import { SHARED_STORES, scaleoutProcesses } from "./scenarios/scaleout-procs.js";
import { tracingScenario } from "./scenarios/tracing.js";
import { wakeScenario } from "./scenarios/wake.js";

const SCENARIO_FNS: Record<ScenarioName, (ctx: Context) => Promise<void>> = {
  append: appendScenario,
  fanout: fanoutScenario,
  idle: idleScenario,
  attach: attachScenario,
  replay: replayScenario,
  wake: wakeScenario,
  heartbeat: heartbeatScenario,
  tracing: tracingScenario,
  scaleout: scaleoutScenario,
};

/** Starts each scenario's processes; all at once, so their start-up costs overlap. */
const PRESTART: Record<ScenarioName, (ctx: Context) => Promise<unknown>> = {
  append: appendWorkers,
  fanout: (ctx) => targetsFor(ctx, "fanout"),
  idle: (ctx) => targetsFor(ctx, "idle"),
  attach: attachProcesses,
  replay: replayProcesses,
  // Starts its server, browser and page itself: they only live while it measures.
  wake: async () => undefined,
  // In-process: it measures the store, not a server.
  heartbeat: async () => undefined,
  // Starts its four processes itself, one after another (they are measured against each other).
  tracing: async () => undefined,
  // Not when none of its stores can be measured: it reports that without processes.
  scaleout: (ctx) =>
    SHARED_STORES.some((s) => ctx.opts.stores.includes(s) && !ctx.storeUnavailable(s))
      ? scaleoutProcesses(ctx)
      : Promise.resolve(undefined),
};

function markdown(
  report: Report,
  facts: ReturnType<typeof machineFacts>,
  quick: boolean,
  secs: number,
): string {
  const out: string[] = [
    "# Threadline benchmark results",
    "",
    quick
      ? "**Quick run** (`--quick`: reduced sizes, a smoke test). The targets are stated for the full sizes; the marks below apply the same criteria to the reduced sizes, so treat them as indicative."
      : "Full run.",
    "",
    "## Machine and command",
    "",
    `- command: \`${facts.command}\` (${fmt(secs)} s)`,
    `- date: ${facts.date}; commit ${facts.commit}`,
    `- CPU: ${facts.cpu}, ${facts.cores} cores; memory ${facts.memoryGiB} GiB; ${facts.os}`,
    `- load average at start: ${facts.loadAvg} (the machine is shared: other load skews numbers)`,
    `- node ${facts.node}; open files limit ${facts.ulimitNofile}`,
    `- packages: ${Object.entries(facts.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    "- processes: each server under test, each load generator and each in-process worker runs in its own `node` process (tsx); followers use raw `node:http` clients.",
    "",
    "## Targets",
    "",
    "| scenario | target | measured | result |",
    "|---|---|---|---|",
    ...report.targets.map((t) => `| ${t.scenario} | ${t.text} | ${t.measured} | ${mark(t.met)} |`),
    "",
  ];
  if (report.errors.length > 0) {
    out.push(
      "## Failed measurements",
      "",
      ...report.errors.map((e) => `- ${e.split("\n")[0]}`),
      "",
    );
  }
  out.push("## Results", "");
  for (const s of report.sections) {
    out.push(`### ${s.title}`, "");
    if (s.intro) out.push(s.intro, "");
    out.push(renderMarkdownTable(s), "");
    for (const n of s.notes ?? []) out.push(`- ${n}`);
    if (s.notes?.length) out.push("");
  }
  if (report.profiles.length > 0) {
    out.push(
      "## CPU profiles",
      "",
      "Sampled with the V8 profiler (as `node --cpu-prof`) in the server or worker process during the measurement. Self time = in the function itself; inclusive = in it and what it called (Threadline's own functions only).",
      "",
      ...report.profiles,
    );
  }
  return `${out.join("\n")}\n`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const facts = machineFacts(argv);
  createScratchRoot();
  const report = new Report();
  const ctx = new Context(
    opts,
    report,
    await storeAvailability([...new Set([...opts.stores, "sqlite", "postgres"])]),
  );
  const started = Date.now();
  process.stdout.write(
    `Threadline bench (${opts.quick ? "quick" : "full"}): ${facts.cores} cores, ${facts.memoryGiB} GiB, node ${facts.node}, load ${facts.loadAvg}\n`,
  );
  for (const name of opts.scenarios) PRESTART[name](ctx).catch(() => undefined);
  const startAt = Date.now();
  await Promise.allSettled(opts.scenarios.map((name) => PRESTART[name](ctx)));
  process.stdout.write(`processes started in ${fmt((Date.now() - startAt) / 1000, 1)} s\n`);
  for (const name of opts.scenarios) {
    const t = Date.now();
    process.stdout.write(`\n### scenario: ${name}\n`);
    try {
      await SCENARIO_FNS[name](ctx);
    } catch (error) {
      ctx.fail(`scenario ${name}`, error);
    }
    process.stdout.write(`(${name}: ${fmt((Date.now() - t) / 1000, 1)} s)\n`);
  }
  await ctx.close();
  const secs = (Date.now() - started) / 1000;
  writeFileSync(opts.out, markdown(report, facts, opts.quick, secs));
  process.stdout.write(`\nTargets:\n`);
  for (const t of report.targets)
    process.stdout.write(`  ${mark(t.met).padEnd(12)} ${t.text}: ${t.measured}\n`);
  process.stdout.write(`\nWrote ${opts.out} (${fmt(secs, 1)} s)\n`);
  if (report.errors.length > 0) {
    process.stderr.write(`${report.errors.length} measurement(s) failed; see the report.\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
