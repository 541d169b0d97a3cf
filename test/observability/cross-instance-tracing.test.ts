import { afterAll, beforeAll, expect, it } from "vitest";
import { traceToKeep } from "../../src/core/tracing.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { forEachBackend } from "../backends.js";
import { parentOf, recordSpans } from "../helpers/otel.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";

/**
 * A run accepted by instance A with a `traceparent` and executed by instance B of the same
 * shared store (PostgreSQL, Redis) continues the request's trace: the trace context is stored
 * with the queued run, and B's run span is its child. A is closed before B takes the run, so
 * nothing of A's memory can be what links them.
 */

const exporter = recordSpans();
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID = "b7ad6b7169203331";

it("keeps only a valid trace context with a run", () => {
  const ok = `00-${TRACE_ID}-${PARENT_ID}-01`;
  expect(traceToKeep({ traceparent: ` ${ok.toUpperCase()} `, tracestate: "a=1" })).toEqual({
    traceparent: ok,
    tracestate: "a=1",
  });
  expect(traceToKeep({ traceparent: "nonsense" })).toBeUndefined();
  expect(traceToKeep({ traceparent: `ff-${TRACE_ID}-${PARENT_ID}-01` })).toBeUndefined();
  expect(traceToKeep({ traceparent: `00-${"0".repeat(32)}-${PARENT_ID}-01` })).toBeUndefined();
  expect(traceToKeep({ traceparent: ok, tracestate: "x".repeat(600) })).toEqual({
    traceparent: ok,
  });
});

await forEachBackend(
  "a run queued on one instance and executed on another continues its trace",
  (backend) => {
    let data: Awaited<ReturnType<typeof backend.fresh>>;
    const open: Threadline[] = [];
    beforeAll(async () => {
      data = await backend.fresh("xtrace");
    });
    afterAll(async () => {
      await Promise.all(open.map((tl) => tl.close({ graceMs: 50 })));
      await data.cleanup();
    });

    const instance = async (id: string) => {
      const tl = createThreadline({
        store: await data.open(),
        agents: { demo: () => new DemoAgent() },
        instanceId: id,
      });
      open.push(tl);
      await tl.ready;
      return tl;
    };

    it("B's run span is a child of the request A accepted", async () => {
      const a = await instance("node-a");
      const b = await instance("node-b");
      // B holds the thread with a run that waits, so A can only queue the next one.
      const holding = await b.startRun({
        threadId: "x",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 60_000, tokens: 2 } } },
      });
      await waitFor(
        async () => (await b.store.runs.get("x", holding.runId))?.status === "running",
        "B's run to start",
      );
      const res = await a.app.request("/threads/x/runs", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
          tracestate: "vendor=1",
        },
        body: JSON.stringify({
          agentId: "demo",
          multitask: "enqueue",
          forwardedProps: { demo: { delayMs: 0, tokens: 2 } },
        }),
      });
      expect(res.status).toBe(202);
      const { runId, status } = (await res.json()) as { runId: string; status: string };
      expect(status).toBe("queued");
      // Stored with the run, and shown by the run list.
      expect((await b.store.runs.get("x", runId))?.trace).toEqual({
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        tracestate: "vendor=1",
      });
      await a.close({ graceMs: 50 });
      open.splice(open.indexOf(a), 1);
      exporter.reset();

      // B's run ends; B's queue takes the next run, the one A accepted.
      await b.cancelRun("x", holding.runId);
      expect((await endedRun(b.store, "x", runId, 15_000)).status).toBe("succeeded");
      const span = await waitFor(
        () =>
          exporter
            .getFinishedSpans()
            .find(
              (s) => s.name === "threadline.run" && s.attributes["threadline.run_id"] === runId,
            ),
        "the run span",
      );
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(parentOf(span)).toBe(PARENT_ID);
      expect(span.spanContext().traceState?.get("vendor")).toBe("1");
      const listed = await b.app.request(`/threads/x/runs/${runId}`);
      expect(((await listed.json()) as { trace?: unknown }).trace).toMatchObject({
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      });
    });
  },
  (b) => b.shared,
);
