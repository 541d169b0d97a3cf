import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * `/metrics` for what the scripted workload of `metrics.test.ts` does not reach: store calls
 * that fail, webhook deliveries that are invalid or fail, a run that ends interrupted (the
 * server shut down under it). Parsed with the Prometheus text-format parser.
 */

const HOOK_SECRET = "hook-secret-hook-secret";
const open: Threadline[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((tl) => tl.close({ graceMs: 50 })));
});

/** A counter's or gauge's samples with `labels`, summed. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  expect(family, name).toBeDefined();
  return family!.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}

describe("/metrics: failures", () => {
  it("counts failed store calls, invalid and failed webhook deliveries", async () => {
    let failEnqueue = false;
    const store = interceptStore(createMemoryStore(), (method, call, args) => {
      if (method === "runs.enqueue" && failEnqueue) {
        return Promise.reject(new Error("the store is down"));
      }
      return call(...args);
    });
    const tl = createThreadline({
      store,
      agents: { demo: new DemoAgent() },
      hooks: [{ id: "gh", secret: HOOK_SECRET, agentId: "demo", thread: "hooked" }],
    });
    open.push(tl);
    await tl.ready;
    const deliver = (body: string) =>
      tl.app.request("/hooks/gh", {
        method: "POST",
        headers: {
          "X-Threadline-Signature": signWebhook(HOOK_SECRET, body, Math.floor(Date.now() / 1000)),
        },
        body,
      });
    // Signed, but not JSON: invalid (400).
    expect((await deliver("not json")).status).toBe(400);
    // The store fails as the run is enqueued: failed (500), and a store error.
    failEnqueue = true;
    expect((await deliver(JSON.stringify({ n: 1 }))).status).toBe(500);
    const run = await tl.app.request("/threads/t/runs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentId: "demo" }),
    });
    expect(run.status).toBe(500);
    failEnqueue = false;

    const text = await tl.metrics!.scrape();
    expect(value(text, "threadline_webhook_deliveries_total", { outcome: "invalid" })).toBe(1);
    expect(value(text, "threadline_webhook_deliveries_total", { outcome: "failed" })).toBe(1);
    expect(value(text, "threadline_webhook_deliveries_total", { outcome: "accepted" })).toBe(0);
    expect(
      value(text, "threadline_store_errors_total", { store: "memory", op: "runs.enqueue" }),
    ).toBe(2);
    expect(value(text, "threadline_runs_queued_total")).toBe(0);
  });

  it("counts a run the shutdown interrupted", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    await tl.ready;
    const { runId } = await tl.startRun({
      threadId: "long",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 60_000, tokens: 3 } } },
    });
    await waitFor(
      async () => (await tl.store.runs.get("long", runId))?.status === "running",
      "the run to start",
    );
    await tl.close({ graceMs: 10 });
    const text = await tl.metrics!.scrape();
    expect(
      value(text, "threadline_runs_ended_total", { status: "interrupted", trigger: "api" }),
    ).toBe(1);
    // (The parser folds a labelled histogram's series into one: its count is read off the text.)
    expect(text).toMatch(
      /^threadline_run_duration_seconds_count\{[^}]*status="interrupted"[^}]*\} 1$/m,
    );
    expect(value(text, "threadline_runs_running")).toBe(0);
  });
});
