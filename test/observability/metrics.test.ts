import parsePrometheusTextFormat, { type Family } from "parse-prometheus-text-format";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";

/**
 * `/metrics` after a scripted workload: runs of every trigger kind, a failure, a cancel, a slow
 * follower and one that overflows, webhook deliveries of each outcome, a missed tick. The
 * scrape is parsed by a Prometheus text-format parser, and every metric's values are asserted.
 */

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const HOOK_SECRET = "hook-secret-hook-secret";
const TOKEN = "metrics-token";
const fast = { forwardedProps: { demo: { delayMs: 0, tokens: 3 } } };

const open: Threadline[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((tl) => tl.close({ graceMs: 50 })));
});

function boot(clock: ManualClock, data = createMemoryData()): Threadline {
  const tl = createThreadline({
    store: createMemoryStore({ data }),
    agents: { demo: () => new DemoAgent() },
    token: TOKEN,
    clock,
    followerWriteTimeoutMs: 100,
    hooks: [{ id: "gh", secret: HOOK_SECRET, agentId: "demo", thread: "hooked", input: fast }],
  });
  open.push(tl);
  return tl;
}

const auth = { authorization: `Bearer ${TOKEN}` };
const post = (tl: Threadline, path: string, body: unknown, headers: Record<string, string> = {}) =>
  tl.app.request(path, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/**
 * The scrape, parsed: first as it is (the parser accepts it: valid text format, a type for each
 * family), then with the histograms' HELP/TYPE lines left out, so that their `_bucket`, `_sum`
 * and `_count` series come out as plain labelled samples (the parser folds labelled histograms
 * into one). Samples are grouped by series name.
 */
async function scrape(tl: Threadline): Promise<Map<string, Family>> {
  const res = await tl.app.request("/metrics", { headers: auth });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const typed = parsePrometheusTextFormat(text);
  const histograms = typed.filter((f) => f.type === "HISTOGRAM").map((f) => f.name);
  expect(histograms.length).toBeGreaterThan(0);
  const flat = text
    .split("\n")
    .filter(
      (line) =>
        !histograms.some((h) => line.startsWith(`# HELP ${h} `) || line.startsWith(`# TYPE ${h} `)),
    )
    .join("\n");
  const out = new Map<string, Family>();
  const series = parsePrometheusTextFormat(flat).filter((f) =>
    histograms.some((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(f.name)),
  );
  for (const f of [...typed.filter((f) => f.type !== "HISTOGRAM"), ...series]) {
    const seen = out.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else out.set(f.name, { ...f, metrics: [...f.metrics] });
  }
  return out;
}

/** The sum of the samples whose labels include `labels`. */
function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = m.get(name);
  expect(family, name).toBeDefined();
  const hits = family!.metrics.filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels?.[k] === v),
  );
  return hits.reduce((sum, s) => sum + Number(s.value ?? 0), 0);
}

describe("/metrics", () => {
  it("counts a scripted workload of every trigger kind, a failure, a cancel and slow followers", async () => {
    const clock = new ManualClock(T0);
    const tl = boot(clock);
    await tl.ready;

    // api: one that succeeds, one that fails, one cancelled while running.
    const ok = (await (await post(tl, "/threads/a/runs", { agentId: "demo", ...fast })).json()) as {
      runId: string;
    };
    await endedRun(tl.store, "a", ok.runId);
    const failing = await post(tl, "/threads/a/runs", {
      agentId: "demo",
      forwardedProps: { demo: { fail: "boom" } },
    });
    const failed = (await failing.json()) as { runId: string };
    expect((await endedRun(tl.store, "a", failed.runId)).status).toBe("failed");
    const slow = (await (
      await post(tl, "/threads/c/runs", {
        agentId: "demo",
        forwardedProps: { demo: { delayMs: 60_000, tokens: 5 } },
      })
    ).json()) as { runId: string };
    await waitFor(
      async () => (await tl.store.runs.get("c", slow.runId))?.status === "running",
      "running",
    );
    await post(tl, `/threads/c/runs/${slow.runId}/cancel`, {});
    expect((await endedRun(tl.store, "c", slow.runId)).status).toBe("cancelled");

    // copilotkit (a client run), a schedule and a heartbeat tick, a webhook.
    const ck = await post(tl, "/agent/demo/run", {
      threadId: "ck",
      runId: "ck-1",
      messages: [],
      tools: [],
      context: [],
      state: {},
      ...fast,
    });
    await ck.text();
    await endedRun(tl.store, "ck", "ck-1");
    await post(tl, "/schedules", {
      id: "cron",
      agentId: "demo",
      threadId: "s",
      cron: "* * * * * *",
      input: fast,
    });
    await post(tl, "/schedules", {
      id: "beat",
      agentId: "demo",
      threadId: "h",
      everyMs: 1_000,
      input: fast,
    });
    await clock.advance(1_000);
    const firstOf = async (t: string) =>
      waitFor(async () => (await tl.store.runs.list(t))[0], `a run on ${t}`);
    await endedRun(tl.store, "s", (await firstOf("s")).runId);
    await endedRun(tl.store, "h", (await firstOf("h")).runId);
    const body = JSON.stringify({ n: 1 });
    const sig = signWebhook(HOOK_SECRET, body, Math.floor(clock.now() / 1000));
    const hook = (h: string) =>
      tl.app.request("/hooks/gh", {
        method: "POST",
        headers: { "X-Threadline-Signature": h },
        body,
      });
    expect((await hook(sig)).status).toBe(202);
    expect((await hook(sig)).status).toBe(200); // the same delivery again
    expect((await hook("t=1,v1=00")).status).toBe(401);
    await endedRun(tl.store, "hooked", (await firstOf("hooked")).runId);

    // A follower that stops reading (cut off), one whose live queue overflows.
    await tl.store.threads.ensure("f");
    const res = await tl.app.request("/threads/f/events?replay=full", { headers: auth });
    const reader = res.body!.getReader();
    const overflowing = tl.follow("f", { replay: "none", maxQueueBytes: 1 });
    await overflowing.open();
    const big = (await (
      await post(tl, "/threads/f/runs", {
        agentId: "demo",
        forwardedProps: { demo: { delayMs: 0, tokens: 200 } },
      })
    ).json()) as { runId: string };
    expect((await reader.read()).done).toBe(false);
    await endedRun(tl.store, "f", big.runId);
    await waitFor(() => tl.fanout.followerCount("f") <= 1, "the stalled stream cut off");
    overflowing.close();

    const m = await scrape(tl);
    const started = (trigger: string) =>
      value(m, "threadline_runs_started_total", { trigger, agent: "demo" });
    expect(started("api")).toBe(4);
    expect(started("client")).toBe(1);
    expect(started("schedule")).toBe(1);
    expect(started("heartbeat")).toBe(1);
    expect(started("webhook")).toBe(1);
    expect(value(m, "threadline_runs_queued_total")).toBe(8);
    const endedWith = (status: string) => value(m, "threadline_runs_ended_total", { status });
    expect(endedWith("succeeded")).toBe(6);
    expect(endedWith("failed")).toBe(1);
    expect(endedWith("cancelled")).toBe(1);
    expect(value(m, "threadline_run_duration_seconds_count", { status: "failed" })).toBe(1);
    expect(value(m, "threadline_run_duration_seconds_count")).toBe(8);
    expect(value(m, "threadline_run_first_event_seconds_count")).toBe(8);
    expect(value(m, "threadline_run_queue_wait_seconds_count")).toBe(8);
    expect(value(m, "threadline_runs_queue_depth")).toBe(0);
    expect(value(m, "threadline_runs_running")).toBe(0);
    // Every event of every run was appended (and each append timed).
    let events = 0;
    for (const t of ["a", "c", "ck", "s", "h", "hooked", "f"])
      events += (await tl.store.threads.head(t))!.lastSeq;
    expect(value(m, "threadline_events_appended_total", { store: "memory" })).toBe(events);
    expect(value(m, "threadline_store_append_seconds_count", { store: "memory" })).toBeGreaterThan(
      0,
    );
    expect(value(m, "threadline_replay_reads_total", { store: "memory" })).toBeGreaterThan(0);
    expect(value(m, "threadline_store_errors_total")).toBe(0);
    expect(value(m, "threadline_followers_cut_off_total", { reason: "slow" })).toBe(1);
    expect(
      value(m, "threadline_followers_cut_off_total", { reason: "overflow" }),
    ).toBeGreaterThanOrEqual(1);
    expect(value(m, "threadline_followers")).toBe(0);
    expect(value(m, "threadline_follower_bytes_total")).toBeGreaterThan(0);
    expect(value(m, "threadline_schedule_tick_lag_seconds_count")).toBe(2);
    expect(value(m, "threadline_schedule_ticks_missed_total")).toBe(0);
    expect(
      value(m, "threadline_webhook_deliveries_total", { hook: "gh", outcome: "accepted" }),
    ).toBe(1);
    expect(
      value(m, "threadline_webhook_deliveries_total", { hook: "gh", outcome: "duplicate" }),
    ).toBe(1);
    expect(
      value(m, "threadline_webhook_deliveries_total", { hook: "gh", outcome: "unauthorized" }),
    ).toBe(1);
    expect(
      value(m, "threadline_http_requests_total", {
        route: "/threads/:threadId/runs",
        method: "POST",
        status: "202",
      }),
    ).toBe(4);
    // Bounded labels: no thread or run id anywhere.
    for (const family of m.values()) {
      for (const s of family.metrics) {
        for (const v of Object.values(s.labels ?? {}))
          expect(v).not.toMatch(/^(a|c|ck|f|s|h|hooked)$|ck-1/);
      }
    }
  });

  it("counts ticks missed while no instance ran", async () => {
    const clock = new ManualClock(T0);
    const data = createMemoryData();
    const first = boot(clock, data);
    await first.ready;
    await post(first, "/schedules", {
      id: "late",
      agentId: "demo",
      threadId: "l",
      everyMs: 60_000,
      input: fast,
    });
    await first.close({ graceMs: 50 });
    open.splice(0);
    await clock.advance(10 * 60_000);
    const second = boot(clock, data);
    await second.ready;
    await waitFor(
      async () => value(await scrape(second), "threadline_schedule_ticks_missed_total") === 1,
      "the missed tick",
    );
  });

  it("/metrics needs the static token unless configured open", async () => {
    const tl = boot(new ManualClock(T0));
    expect((await tl.app.request("/metrics")).status).toBe(401);
    const openTl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      token: TOKEN,
      metrics: { open: true },
    });
    open.push(openTl);
    expect((await openTl.app.request("/metrics")).status).toBe(200);
    const off = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      metrics: false,
    });
    open.push(off);
    expect((await off.app.request("/metrics")).status).toBe(404);
  });
});
