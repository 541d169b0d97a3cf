import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpAgent } from "@ag-ui/client";
import { type BaseEvent, EventType } from "@ag-ui/core";
import { EventEncoder } from "@ag-ui/encoder";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { loadTracing } from "../../src/observability/tracing.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { parentOf, recordSpans } from "../helpers/otel.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";

/**
 * OpenTelemetry with the SDK's in-memory exporter: a run started over HTTP with a `traceparent`
 * is a span of that trace, with store-append and agent spans under it, and the agent's own HTTP
 * request (an AG-UI backend, here on loopback) carries the trace on.
 */

const exporter = recordSpans();
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

let backend: Server;
let backendUrl: string;
const seenTraceparents: string[] = [];

beforeAll(async () => {
  const encoder = new EventEncoder();
  backend = createServer((req, res) => {
    seenTraceparents.push(String(req.headers.traceparent ?? ""));
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const { threadId, runId } = JSON.parse(body) as { threadId: string; runId: string };
      res.writeHead(200, { "content-type": "text/event-stream" });
      const events: BaseEvent[] = [
        { type: EventType.RUN_STARTED, threadId, runId } as BaseEvent,
        { type: EventType.TEXT_MESSAGE_START, messageId: "m1", role: "assistant" } as BaseEvent,
        { type: EventType.TEXT_MESSAGE_CONTENT, messageId: "m1", delta: "hi" } as BaseEvent,
        { type: EventType.TEXT_MESSAGE_END, messageId: "m1" } as BaseEvent,
        { type: EventType.RUN_FINISHED, threadId, runId } as BaseEvent,
      ];
      for (const e of events) res.write(encoder.encode(e));
      res.end();
    });
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/agent`;
});
afterAll(() => new Promise<void>((r) => backend.close(() => r())));

describe("OpenTelemetry traces", () => {
  it("a run started with a traceparent is a child of that trace, with store and agent spans under it", async () => {
    const tl = createThreadline({
      store: createMemoryStore(),
      agents: { remote: new HttpAgent({ url: backendUrl }) },
    });
    try {
      await tl.ready;
      exporter.reset();
      const res = await tl.app.request("/threads/traced/runs", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        },
        body: JSON.stringify({ agentId: "remote" }),
      });
      const { runId } = (await res.json()) as { runId: string };
      expect((await endedRun(tl.store, "traced", runId)).status).toBe("succeeded");
      const spans = await waitFor(() => {
        const all = exporter.getFinishedSpans();
        return all.some((s) => s.name === "threadline.run") ? all : undefined;
      }, "the run span");
      const run = spans.find((s) => s.name === "threadline.run")!;
      expect(run.spanContext().traceId).toBe(TRACE_ID);
      expect(parentOf(run)).toBe(PARENT_ID);
      expect(run.attributes).toMatchObject({
        "threadline.thread_id": "traced",
        "threadline.run_id": runId,
        "threadline.agent_id": "remote",
        "threadline.trigger": "api",
        "threadline.status": "succeeded",
      });
      const runSpanId = run.spanContext().spanId;
      const appends = spans.filter((s) => s.name === "threadline.store.append");
      expect(appends.length).toBeGreaterThan(0);
      for (const a of appends) {
        expect(a.spanContext().traceId).toBe(TRACE_ID);
        expect(parentOf(a)).toBe(runSpanId);
      }
      const agent = spans.find((s) => s.name === "threadline.agent.run")!;
      expect(parentOf(agent)).toBe(runSpanId);
      // The backend's request carried the trace, naming the agent span as its parent.
      expect(seenTraceparents.at(-1)).toBe(`00-${TRACE_ID}-${agent.spanContext().spanId}-01`);
    } finally {
      await tl.close({ graceMs: 50 });
    }
  });

  it("a run nobody traced starts a trace of its own; `tracing: false` records nothing", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const off = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      tracing: false,
    });
    try {
      await Promise.all([tl.ready, off.ready]);
      exporter.reset();
      const fast = { forwardedProps: { demo: { delayMs: 0, tokens: 2 } } };
      const a = await tl.startRun({ threadId: "own", agentId: "demo", input: fast });
      await endedRun(tl.store, "own", a.runId);
      const b = await off.startRun({ threadId: "none", agentId: "demo", input: fast });
      await endedRun(off.store, "none", b.runId);
      const runs = await waitFor(() => {
        const r = exporter.getFinishedSpans().filter((s) => s.name === "threadline.run");
        return r.length > 0 ? r : undefined;
      }, "the run span");
      expect(runs.map((s) => s.attributes["threadline.thread_id"])).toEqual(["own"]);
      expect(parentOf(runs[0]!)).toBeUndefined();
    } finally {
      await Promise.all([tl.close({ graceMs: 50 }), off.close({ graceMs: 50 })]);
    }
  });

  it("without @opentelemetry/api installed, tracing is off", async () => {
    const missing = await loadTracing(() => Promise.reject(new Error("Cannot find package")));
    expect(missing).toBeUndefined();
  });
});
