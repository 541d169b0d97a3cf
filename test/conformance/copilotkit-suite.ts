import type { BaseEvent, Message } from "@ag-ui/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { post, type RuntimeServer, runInput, serveRuntime } from "../copilotkit/runtime-helpers.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { collectFrames, eventsOf } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

vi.hoisted(() => {
  process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
});

export interface StoreUnderTest {
  store: ThreadStore;
  /** Removes what the store left behind (schema, key prefix, file), after it was closed. */
  cleanup(): Promise<void>;
}

/** Tries per surface of "a connect right after a run was accepted shows that run to its end". */
const TRIES = 200;
/** Tries in flight at once (each on its own thread). */
const PARALLEL = 10;

type Terminal = BaseEvent & { runId?: string };
const isTerminal = (e: BaseEvent) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR";

/**
 * CopilotKit's contract (issue 11, COMPAT.md "CopilotKit's run finalization contract"), on a
 * given store, through Threadline's own CopilotKit routes and through a real `CopilotRuntime`
 * using `ThreadlineAgentRunner`. Written once; run against every store.
 */
export function runCopilotKitConformance(name: string, open: () => Promise<StoreUnderTest>) {
  describe(`CopilotKit conformance: ${name}`, () => {
    let under: StoreUnderTest;
    let tl: Threadline;
    let server: Awaited<ReturnType<Threadline["listen"]>>;
    let runner: ThreadlineAgentRunner;
    let rt: RuntimeServer;

    beforeAll(async () => {
      under = await open();
      tl = createThreadline({
        store: under.store,
        agents: { demo: new DemoAgent(), gate: new GateAgent() },
      });
      server = await tl.listen({ port: 0 });
      runner = new ThreadlineAgentRunner({ threadline: tl });
      rt = await serveRuntime({ demo: new DemoAgent(), gate: new GateAgent() }, runner);
    });
    afterAll(async () => {
      await rt?.close();
      await server?.close();
      await tl?.close({ graceMs: 100 });
      await under?.cleanup();
    });

    const gateRun = (runId: string) =>
      waitFor(() => GateAgent.runs.find((r) => r.input.runId === runId), `gate run ${runId}`);
    /** The connect is attached next to the run's own stream (a waiting connect sends no headers). */
    const attached = (threadId: string, n: number) =>
      waitFor(() => tl.fanout.followerCount(threadId) >= n, `${n} streams on ${threadId}`);

    for (const via of ["Threadline", "CopilotRuntime"] as const) {
      const base = () => (via === "Threadline" ? server.url : rt.url);

      it(`${via}: a connect at any point after a run was accepted shows that run to its end (${TRIES} tries)`, async () => {
        const misses: string[] = [];
        const attempt = async (i: number) => {
          // Tries past the first hundred land on threads that already have a run.
          const threadId = `ck-${via}-${i % 100}`;
          const input = runInput(threadId, {
            messages: [{ id: `u-${i}`, role: "user", content: "hi" }],
          });
          const running = post(`${base()}/agent/gate/run`, input);
          // Accepted: Threadline answers at once; a CopilotRuntime sends its headers with the
          // first event, but the runner has stored the run before its run() returned.
          if (via === "Threadline") expect((await running).status).toBe(200);
          else await waitFor(() => tl.store.runs.get(threadId, input.runId), "run stored");
          // Where the connect lands: 0 as soon as accepted (before the claim or before the
          // agent's first event), 1 after RUN_STARTED was emitted, 2 mid-message, committed.
          const phase = i % 3;
          if (phase > 0) {
            const gate = await gateRun(input.runId);
            gate.started();
            if (phase === 2) {
              gate.text(`a-${i}`, "part");
              await waitFor(async () => {
                const log = await tl.store.threads.read(threadId, { after: 0, limit: 1000 });
                return log.some(
                  (r) => r.runId === input.runId && r.event.type === "TEXT_MESSAGE_CONTENT",
                );
              }, "text committed");
            }
          }
          const connect = post(`${base()}/agent/gate/connect`, runInput(threadId));
          const gate = await gateRun(input.runId);
          // The run goes on only once the connect has looked (its plan is made when it sends
          // its first bytes): a connect that looked after the run's end would rightly show it
          // in its snapshot only. Threadline answers a connect at once; a CopilotRuntime sends
          // its headers with the first event, which on a new thread is the run's RUN_STARTED.
          if (via === "CopilotRuntime") await attached(threadId, 2);
          if (phase === 0 && via === "CopilotRuntime") gate.started();
          const connected = await connect;
          expect(connected.status).toBe(200);
          if (phase === 0 && via === "Threadline") gate.started();
          if (phase !== 2) gate.text(`a-${i}`, "part");
          gate.emit({ type: "TEXT_MESSAGE_END", messageId: `a-${i}` } as BaseEvent);
          gate.finish();
          const [seen] = await Promise.all([
            collectFrames(connected.body!, () => false, 20_000).then(eventsOf),
            running.then((r) => collectFrames(r.body!, () => false, 20_000)),
          ]);
          const started = seen.findIndex(
            (e) => e.type === "RUN_STARTED" && (e as Terminal).runId === input.runId,
          );
          const last = seen.at(-1) as Terminal | undefined;
          if (started < 0 || !last || !isTerminal(last) || last.runId !== input.runId) {
            misses.push(`try ${i}: ${seen.map((e) => e.type).join(",") || "(empty)"}`);
          } else if (i % 20 === 0) {
            await verifyWithAgUi(seen);
          }
        };
        for (let i = 0; i < TRIES; i += PARALLEL) {
          await Promise.all(
            Array.from({ length: Math.min(PARALLEL, TRIES - i) }, (_, j) => attempt(i + j)),
          );
        }
        expect(misses).toEqual([]);
      }, 240_000);

      it(`${via}: stop right after the run was accepted cancels it`, async () => {
        const threadId = `stop-now-${via}`;
        const input = runInput(threadId, {
          messages: [{ id: "u1", role: "user", content: "hi" }],
          forwardedProps: { demo: { delayMs: 20, tokens: 50 } },
        });
        const running = await post(`${base()}/agent/demo/run`, input);
        const stop = await post(`${base()}/agent/demo/stop/${threadId}`, { runId: input.runId });
        expect(stop.status).toBe(200);
        const own = eventsOf(await collectFrames(running.body!, () => false, 20_000));
        await verifyWithAgUi(own);
        expect(own.at(-1)).toMatchObject({ type: "RUN_FINISHED", runId: input.runId });
        expect((await tl.store.runs.get(threadId, input.runId))?.status).toBe("cancelled");
      });
    }

    it("runner: stop() immediately after run() returns cancels the run", async () => {
      const threadId = "runner-eager";
      const input = runInput(threadId, { forwardedProps: { demo: { delayMs: 20, tokens: 50 } } });
      const stream = runner.run({ threadId, agent: new DemoAgent(), input });
      expect(await runner.stop({ threadId })).toBe(true);
      const events: BaseEvent[] = [];
      await new Promise<void>((resolve, reject) =>
        stream.subscribe({ next: (e) => events.push(e), complete: resolve, error: reject }),
      );
      await verifyWithAgUi(events);
      expect(events.at(-1)).toMatchObject({
        type: "RUN_FINISHED",
        metadata: { threadline: { outcome: "cancelled" } },
      });
      expect((await tl.store.runs.get(threadId, input.runId))?.status).toBe("cancelled");
      expect(await runner.isRunning({ threadId })).toBe(false);
    });

    it("stop during an open tool call: the log verifies and every tool call has a tool message", async () => {
      const threadId = "stop-tool";
      const { runId } = await tl.startRun({ threadId, agentId: "gate" });
      const run = await gateRun(runId);
      run.started();
      run.emit(
        { type: "TOOL_CALL_START", toolCallId: "tc-done", toolCallName: "search" } as BaseEvent,
        { type: "TOOL_CALL_ARGS", toolCallId: "tc-done", delta: "{}" } as BaseEvent,
        { type: "TOOL_CALL_END", toolCallId: "tc-done" } as BaseEvent,
        { type: "TOOL_CALL_START", toolCallId: "tc-open", toolCallName: "search" } as BaseEvent,
        { type: "TOOL_CALL_ARGS", toolCallId: "tc-open", delta: '{"q":' } as BaseEvent,
      );
      await waitFor(
        async () => ((await tl.store.threads.head(threadId))?.lastSeq ?? 0) >= 6,
        "the tool calls committed",
      );
      const stop = await post(`${server.url}/agent/gate/stop/${threadId}`, { runId });
      expect(stop.status).toBe(200);
      await waitFor(
        async () => (await tl.store.runs.get(threadId, runId))?.status === "cancelled",
        "the run cancelled",
      );
      const log = (await tl.store.threads.read(threadId, { after: 0, limit: 1000 })).map(
        (r) => r.event,
      );
      await verifyWithAgUi(log);
      expect(log.at(-1)).toMatchObject({ type: "RUN_FINISHED" });
      type ToolCallMessage = Message & { toolCalls?: { id: string }[]; toolCallId?: string };
      const messages = (await tl.store.threads.get(threadId))!.messages as ToolCallMessage[];
      const calls = messages.flatMap((m) => (m.role === "assistant" ? (m.toolCalls ?? []) : []));
      expect(calls.map((c) => c.id).sort()).toEqual(["tc-done", "tc-open"]);
      const answered = messages.filter((m) => m.role === "tool").map((m) => m.toolCallId);
      expect(answered.sort()).toEqual(["tc-done", "tc-open"]);
    });
  });
}
