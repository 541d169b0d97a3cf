import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BaseEvent, RunAgentInput } from "@ag-ui/core";
import { CopilotRuntime, createCopilotRuntimeHandler } from "@copilotkit/runtime/v2";
import { createCopilotNodeHandler } from "@copilotkit/runtime/v2/node";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { Observable } from "rxjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type RunnerRequestContext,
  ThreadlineAgentRunner,
  withThreadline,
} from "../../src/copilotkit/index.js";
import { HEADER_RUNNER_REQUEST } from "../../src/copilotkit/runner-requests.js";
import type { RunActor } from "../../src/core/types.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { parentOf, recordSpans } from "../helpers/otel.js";
import { collectFrames, eventsOf } from "../helpers/sse.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";
import { post, runInput } from "./runtime-helpers.js";

vi.hoisted(() => {
  process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
});

/**
 * A `ThreadlineAgentRunner` inside a user's real CopilotRuntime: each run records the principal
 * the runner's `principal` option finds in its request (the runtime's Request through
 * `withThreadline`, else the headers CopilotKit forwards to the agent), counts in the same
 * Prometheus metrics as a native run, and is a span of the request's trace.
 */

const exporter = recordSpans();
const TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "10f067aa0ba902b7";
const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;

/** The demo agent, remembering the headers each of its runs had (what its backend would get). */
class HeaderSpyAgent extends DemoAgent {
  static seen: Record<string, string>[] = [];
  override run(input: RunAgentInput): Observable<BaseEvent> {
    HeaderSpyAgent.seen.push({ ...((this as { headers?: Record<string, string> }).headers ?? {}) });
    return super.run(input);
  }
}

/** A user's runtime: CopilotKit's handler on node:http, with or without `withThreadline`. */
async function serve(runner: ThreadlineAgentRunner, wrapped: boolean) {
  const runtime = new CopilotRuntime({ agents: { demo: new HeaderSpyAgent() }, runner });
  const options = { runtime, cors: true };
  const handler = createCopilotRuntimeHandler(
    wrapped ? withThreadline(options, { runner }) : options,
  );
  const server: Server = createServer(createCopilotNodeHandler(handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const seenContexts: RunnerRequestContext[] = [];
/** The app's rule: a bearer token `user:<id>` is that user (a real app verifies a JWT). */
function principal(ctx: RunnerRequestContext): RunActor | undefined {
  seenContexts.push(ctx);
  const auth = ctx.request?.headers.get("authorization") ?? ctx.headers.authorization;
  const m = /^Bearer user:(.+)$/.exec(auth ?? "");
  if (auth === "Bearer refuse") throw new Error("not allowed");
  return m ? { kind: "user", id: m[1]! } : undefined;
}

const fast = { demo: { delayMs: 0, tokens: 2 } };

async function runThrough(url: string, threadId: string, headers: Record<string, string>) {
  const input = runInput(threadId, { forwardedProps: fast });
  const res = await post(`${url}/agent/demo/run`, input, headers);
  expect(res.status).toBe(200);
  const events = eventsOf(await collectFrames(res.body!, () => false));
  return { runId: input.runId, events };
}

function series(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  return (family?.metrics ?? [])
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}

describe("ThreadlineAgentRunner with its own coordinator, in a CopilotRuntime with withThreadline", () => {
  const store = createMemoryStore();
  const runner = new ThreadlineAgentRunner({ store, principal });
  let rt: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    rt = await serve(runner, true);
  });
  afterAll(async () => {
    await rt.close();
    await runner.close({ graceMs: 50 });
  });

  it("records the principal of the request, traces the run under its traceparent, counts it", async () => {
    exporter.reset();
    HeaderSpyAgent.seen = [];
    const { runId, events } = await runThrough(rt.url, "own-1", {
      authorization: "Bearer user:alice",
      traceparent,
      // A client's own key header is replaced: it cannot name another request.
      [HEADER_RUNNER_REQUEST]: "forged",
    });
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
    const run = await endedRun(store, "own-1", runId);
    expect(run).toMatchObject({ status: "succeeded", startedBy: { kind: "user", id: "alice" } });
    expect(run.trace?.traceparent).toBe(traceparent);

    // The hook saw the runtime's request and the forwarded headers; the agent's backend never
    // sees the key header.
    const ctx = seenContexts.at(-1)!;
    expect(ctx).toMatchObject({ threadId: "own-1", agentId: "demo" });
    expect(ctx.request?.headers.get("authorization")).toBe("Bearer user:alice");
    expect(ctx.headers.authorization).toBe("Bearer user:alice");
    expect(Object.keys(ctx.headers)).not.toContain(HEADER_RUNNER_REQUEST);
    expect(HeaderSpyAgent.seen.at(-1)?.authorization).toBe("Bearer user:alice");
    expect(Object.keys(HeaderSpyAgent.seen.at(-1)!)).not.toContain(HEADER_RUNNER_REQUEST);

    const span = await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .find((s) => s.name === "threadline.run" && s.attributes["threadline.run_id"] === runId),
      "the run span",
    );
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(span)).toBe(PARENT_ID);
    expect(span.attributes).toMatchObject({
      "threadline.trigger": "client",
      "threadline.status": "succeeded",
    });
    const under = exporter
      .getFinishedSpans()
      .filter((s) => parentOf(s) === span.spanContext().spanId);
    expect(under.map((s) => s.name)).toEqual(
      expect.arrayContaining(["threadline.store.append", "threadline.agent.run"]),
    );

    // The same counters as a native run.
    const text = await runner.metrics!.scrape();
    expect(
      series(text, "threadline_runs_started_total", { trigger: "client", agent: "demo" }),
    ).toBe(1);
    expect(
      series(text, "threadline_runs_ended_total", { trigger: "client", status: "succeeded" }),
    ).toBe(1);
    expect(series(text, "threadline_events_appended_total", { store: "memory" })).toBe(
      (await store.threads.head("own-1"))!.lastSeq,
    );
    expect(series(text, "threadline_runs_running")).toBe(0);
  });

  it("a request without a principal records none; a principal() that throws refuses the run", async () => {
    const anonymous = await runThrough(rt.url, "own-2", {});
    expect((await endedRun(store, "own-2", anonymous.runId)).startedBy).toBeUndefined();
    const refused = await runThrough(rt.url, "own-3", { authorization: "Bearer refuse" });
    expect(refused.events.map((e) => e.type)).toEqual(["RUN_ERROR"]);
    expect(await store.runs.get("own-3", refused.runId)).toBeNull();
  });
});

describe("without withThreadline: the headers CopilotKit forwards to the agent", () => {
  const store = createMemoryStore();
  const runner = new ThreadlineAgentRunner({ store, principal, metrics: false });
  let rt: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    rt = await serve(runner, false);
  });
  afterAll(async () => {
    await rt.close();
    await runner.close({ graceMs: 50 });
  });

  it("maps the forwarded authorization header; a client's key header finds no request", async () => {
    const { runId } = await runThrough(rt.url, "plain-1", {
      authorization: "Bearer user:bob",
      [HEADER_RUNNER_REQUEST]: "forged",
    });
    expect((await endedRun(store, "plain-1", runId)).startedBy).toEqual({
      kind: "user",
      id: "bob",
    });
    const ctx = seenContexts.at(-1)!;
    expect(ctx.request).toBeUndefined();
    expect(ctx.headers.authorization).toBe("Bearer user:bob");
    expect(runner.metrics).toBeUndefined();
  });
});

describe("ThreadlineAgentRunner on a Threadline: the Threadline's metrics", () => {
  it("counts the runner's runs with the native ones", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const runner = new ThreadlineAgentRunner({ threadline: tl, principal });
    const rt = await serve(runner, true);
    try {
      const { runId } = await runThrough(rt.url, "tl-1", { authorization: "Bearer user:carol" });
      const run = await endedRun(tl.store, "tl-1", runId);
      expect(run.startedBy).toEqual({ kind: "user", id: "carol" });
      const native = await tl.startRun({
        threadId: "tl-1",
        agentId: "demo",
        multitask: "enqueue",
        input: { forwardedProps: fast },
      });
      await endedRun(tl.store, "tl-1", native.runId);
      expect(runner.metrics).toBe(tl.metrics);
      const text = await tl.metrics!.scrape();
      expect(series(text, "threadline_runs_started_total", { trigger: "client" })).toBe(1);
      expect(series(text, "threadline_runs_started_total", { trigger: "api" })).toBe(1);
      expect(series(text, "threadline_runs_ended_total", { status: "succeeded" })).toBe(2);
    } finally {
      await rt.close();
      await tl.close({ graceMs: 50 });
    }
  });
});
