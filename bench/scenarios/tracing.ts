import { fileURLToPath } from "node:url";
import { Child, killAllOf } from "../lib/children.js";
import { fmt } from "../lib/report.js";
import { median } from "../lib/stats.js";
import type { TracingVariant } from "../procs/tracing-subject.js";
import type { Context } from "./context.js";

/**
 * Scenario "tracing" (issue 16: "without the SDK installed nothing changes and nothing is
 * slower"). The same run/append/fan-out workload in four processes, one per way OpenTelemetry
 * may be there (see procs/tracing-subject.ts), measured in interleaved rounds — every round
 * measures each variant once, in an order drawn afresh — so the load of a shared machine falls on
 * all of them alike. The cost is the subject process's CPU time per event (user + system:
 * what waiting for a core on a loaded machine does not inflate), wall time beside it.
 * Reported: each subject's median cost per event, and the median (and interquartile range) of
 * its per-round ratio to `off`, the process where no span code runs.
 */

const VARIANTS: readonly TracingVariant[] = ["off", "absent", "noop", "sdk"];
/** What is measured each round: a variant's process, and `noop`'s once more without its spans. */
type Subject = TracingVariant | "noop-detached";
const SUBJECTS: readonly Subject[] = ["off", "absent", "noop", "noop-detached", "sdk"];
const LABEL: Record<Subject, string> = {
  off: "`tracing: false` (no span code runs)",
  absent: "`@opentelemetry/api` not resolvable",
  noop: "API installed, no tracer provider (no-op spans)",
  "noop-detached": "the `noop` process with its span code detached",
  sdk: "SDK provider, spans dropped (tracing on)",
};
/** What each subject is compared with: `off`, or (in-process) its own detached self. */
const BASE: Record<Subject, Subject> = {
  off: "off",
  absent: "off",
  noop: "off",
  "noop-detached": "noop-detached",
  sdk: "off",
};
/** The bound on "nothing is slower" for the variants without an SDK, given the noise. */
const MAX_RATIO = 1.05;
const HIDE = fileURLToPath(new URL("../../test/helpers/hide-modules.mjs", import.meta.url));

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

/** `xs` in an order drawn from `seed` (Park–Miller: the same order for the same seed). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let state = (seed % 2_147_483_646) + 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 48_271) % 2_147_483_647;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function tracingScenario(ctx: Context): Promise<void> {
  const { runs, events, followers, rounds, warmup } = ctx.opts.sizes.tracing;
  const store = "memory";
  const children = new Map<TracingVariant, Child>();
  try {
    for (const variant of VARIANTS) {
      const child = await Child.start("tracing-subject.ts", {
        name: `tracing-${variant}`,
        nodeArgs: ["--expose-gc", "--import", HIDE],
        env: { HIDE_MODULES: variant === "absent" ? "@opentelemetry/api" : "" },
      });
      const facts = await child.call<{ apiResolvable: boolean; traced: boolean }>("start", {
        variant,
        store,
      });
      ctx.log(
        `${variant}: @opentelemetry/api ${facts.apiResolvable ? "resolvable" : "not resolvable"}, spans ${facts.traced ? "made" : "not made"}`,
      );
      children.set(variant, child);
    }
    const params = { runs, events, followers };
    const measure = async (subject: Subject) => {
      const variant = subject === "noop-detached" ? "noop" : subject;
      const m = await children
        .get(variant)!
        .call<{ ms: number; cpuMs: number; events: number }>(
          "measure",
          { ...params, detach: subject === "noop-detached" },
          120_000,
        );
      return { cpu: (m.cpuMs * 1000) / m.events, wall: (m.ms * 1000) / m.events };
    };
    for (let w = 0; w < warmup; w++) for (const s of SUBJECTS) await measure(s);
    const usPerEvent = new Map<Subject, number[]>(SUBJECTS.map((v) => [v, []]));
    const wallPerEvent = new Map<Subject, number[]>(SUBJECTS.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      // A fresh order each round, so no subject always follows the same one (`noop-detached`
      // right after `noop` in their shared process would be a bias of its own).
      const order = shuffled(SUBJECTS, r + 1);
      for (const s of order) {
        const m = await measure(s);
        usPerEvent.get(s)!.push(m.cpu);
        wallPerEvent.get(s)!.push(m.wall);
      }
    }
    const ratios = (s: Subject, base = BASE[s]) =>
      usPerEvent.get(s)!.map((x, i) => x / usPerEvent.get(base)![i]!);
    const iqr = (xs: number[]) => `${fmt(quantile(xs, 0.25), 3)}–${fmt(quantile(xs, 0.75), 3)}`;
    ctx.report.section({
      title: "Tracing overhead: the run/append/fan-out path with and without OpenTelemetry",
      intro: `${rounds} interleaved rounds (after ${warmup} warm-up), one process per variant; a round measures each subject once, in an order drawn afresh: ${runs} runs of ${events} events on the ${store} store, each event to ${followers} in-process followers. Cost: the subject process's CPU time per event. Ratio: the subject's cost ÷ its base's in the same round (\`off\`, or for \`noop\` also its own process with the span code detached, which leaves out any difference between processes).`,
      headers: [
        "subject",
        "CPU µs/event (median)",
        "best round",
        "wall µs/event (median)",
        "ratio to off (median)",
        "ratio p25–p75",
        "ratio to own detached (median)",
      ],
      rows: SUBJECTS.map((s) => [
        LABEL[s],
        fmt(median(usPerEvent.get(s)!), 2),
        fmt(Math.min(...usPerEvent.get(s)!), 2),
        fmt(median(wallPerEvent.get(s)!), 2),
        s === "off" ? "1" : fmt(median(ratios(s, "off")), 3),
        s === "off" ? "" : iqr(ratios(s, "off")),
        s === "noop"
          ? `${fmt(median(ratios(s, "noop-detached")), 3)} (p25–p75 ${iqr(ratios(s, "noop-detached"))})`
          : "",
      ]),
      notes: [
        "`absent` runs with `@opentelemetry/api` made unresolvable by a module hook (`test/helpers/hide-modules.mjs`), as if it were not installed; each process checks at start that its variant holds (API resolvable or not, spans made or not). `absent` and `off` run the same code (no span code is loaded): their ratio is the noise of comparing two processes on this machine.",
        "`sdk` is informative (what turning tracing on costs); the targets are about the variants without an SDK.",
      ],
    });
    const targets: Array<[Subject, Subject, string]> = [
      ["absent", "off", "without @opentelemetry/api: no slower than tracing off"],
      [
        "noop",
        "noop-detached",
        "with the API and no SDK: no slower than without its span code (same process)",
      ],
    ];
    for (const [s, base, text] of targets) {
      const r = ratios(s, base);
      ctx.report.target({
        scenario: "tracing",
        text: `${text} (median ratio ≤ ${MAX_RATIO})`,
        measured: `median ratio ${fmt(median(r), 3)} (p25–p75 ${iqr(r)})`,
        met: median(r) <= MAX_RATIO,
      });
    }
  } finally {
    await killAllOf([...children.values()]);
  }
}
