import type { BaseEvent } from "@ag-ui/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import { StreamPlan } from "../../src/core/copilotkit/plan.js";
import type { FollowItem } from "../../src/core/follow.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { collectFrames, eventsOf, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { post, type RuntimeServer, runInput, serveRuntime } from "./runtime-helpers.js";

vi.hoisted(() => {
  process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
});

const item = (seq: number, type: string, runId?: string, kind = "event"): FollowItem =>
  ({
    seq,
    event: { type } as BaseEvent,
    kind,
    ...(runId ? { runId } : {}),
    frame: new Uint8Array(),
  }) as FollowItem;

describe("StreamPlan (the CopilotKit stream rule)", () => {
  it("a run stream shows only its run and ends with its terminal event", () => {
    const plan = StreamPlan.run("r2");
    expect(plan.decide(item(1, "RUN_STARTED", "r1"))).toBe("skip");
    expect(plan.decide(item(2, "RUN_FINISHED", "r1"))).toBe("skip");
    expect(plan.decide(item(3, "RUN_STARTED", "r2"))).toBe("emit");
    expect(plan.decide(item(4, "RUN_FINISHED", "r2"))).toBe("emit-and-end");
    expect(plan.decide(item(5, "RUN_STARTED", "r3"))).toBe("end");
  });

  it("a connect waits for a queued run, ends at its terminal event, never shows a later run", () => {
    const plan = StreamPlan.connect({ pending: ["q"], endSeq: 4, start: 0 });
    expect(plan.done).toBe(false);
    for (const type of ["RUN_STARTED", "MESSAGES_SNAPSHOT", "STATE_SNAPSHOT", "RUN_FINISHED"]) {
      expect(plan.decide(item(4, type, undefined, "snapshot"))).toBe("emit");
    }
    expect(plan.unstarted()).toEqual(["q"]);
    expect(plan.decide(item(5, "RUN_STARTED", "q"))).toBe("emit");
    expect(plan.unstarted()).toEqual([]);
    expect(plan.settle("q")).toBe(false); // it started: its terminal event will come
    expect(plan.decide(item(6, "RUN_FINISHED", "q"))).toBe("emit-and-end");
    expect(plan.decide(item(7, "RUN_STARTED", "later"))).toBe("end");
  });

  it("an idle connect ends after the log it saw, but never inside a run", () => {
    const plan = StreamPlan.connect({ pending: [], endSeq: 3, start: 1 });
    expect(plan.decide(item(2, "RUN_STARTED", "a"))).toBe("emit");
    // seq 3 is the log's end when the connect looked, but run `a` is still open there.
    expect(plan.decide(item(3, "TEXT_MESSAGE_START", "a"))).toBe("emit");
    expect(plan.decide(item(4, "RUN_FINISHED", "a"))).toBe("emit-and-end");
    expect(StreamPlan.connect({ pending: [], endSeq: 3, start: 3 }).done).toBe(true);
  });

  it("a queued run that ends without writing settles the wait", () => {
    const plan = StreamPlan.connect({ pending: ["q1", "q2"], endSeq: 0, start: 0 });
    expect(plan.settle("q1")).toBe(false);
    expect(plan.settle("q2")).toBe(true);
    expect(plan.done).toBe(true);
  });

  it("a follow shows everything and never ends", () => {
    const plan = StreamPlan.follow();
    expect(plan.decide(item(1, "RUN_FINISHED", "a"))).toBe("emit");
    expect(plan.done).toBe(false);
  });
});

/**
 * The races of a connect against a run that was accepted but not yet claimed: the store's
 * `runs.claimNext` is held until the test releases it, so "before the claim" is certain.
 */
describe("connect and stop around a run that is accepted but not claimed", () => {
  let tl: Threadline;
  let server: Awaited<ReturnType<Threadline["listen"]>>;
  let runner: ThreadlineAgentRunner;
  let rt: RuntimeServer;
  let held: Promise<void> | undefined;
  let release: () => void = () => undefined;
  const hold = () => {
    held = new Promise<void>((r) => {
      release = () => {
        held = undefined;
        r();
      };
    });
  };

  beforeAll(async () => {
    const store = interceptStore(createMemoryStore(), async (method, call, args) => {
      if (method === "runs.claimNext" && held) await held;
      return call(...args);
    });
    tl = createThreadline({ store, agents: { demo: new DemoAgent(), gate: new GateAgent() } });
    server = await tl.listen({ port: 0 });
    runner = new ThreadlineAgentRunner({ threadline: tl });
    rt = await serveRuntime({ demo: new DemoAgent() }, runner);
  });
  afterAll(async () => {
    release();
    await rt.close();
    await server.close();
    await tl.close({ graceMs: 50 });
  });
  beforeEach(() => {
    release();
    GateAgent.reset();
  });

  const fast = { demo: { delayMs: 1, tokens: 3 } };
  /**
   * Waits for `n` streams on the thread. (A CopilotRuntime sends its response headers with the
   * first bytes of the body, so a waiting connect cannot be awaited for its headers.)
   */
  const attached = (threadId: string, n: number) =>
    waitFor(() => tl.fanout.followerCount(threadId) >= n, `${n} streams on ${threadId}`);
  const queued = (threadId: string, runId: string) =>
    waitFor(
      async () => (await tl.store.runs.get(threadId, runId))?.status === "queued",
      `run ${runId} queued`,
    );

  for (const via of ["Threadline", "CopilotRuntime"] as const) {
    const base = () => (via === "Threadline" ? server.url : rt.url);

    it(`${via}: a connect on a new thread before the claim shows the run to its end`, async () => {
      const threadId = `new-${via}`;
      hold();
      const input = runInput(threadId, {
        messages: [{ id: `u-${via}`, role: "user", content: "hi" }],
        forwardedProps: fast,
      });
      const running = post(`${base()}/agent/demo/run`, input);
      await queued(threadId, input.runId);
      const connected = post(`${base()}/agent/demo/connect`, runInput(threadId));
      // The connect is attached (next to the run's own stream) and waits for the queued run.
      await attached(threadId, 2);
      release();
      const reader = new FrameReader((await connected).body!);
      await reader.until(() => false);
      const events = eventsOf(reader.frames);
      await verifyWithAgUi(events);
      expect(events[0]).toMatchObject({ type: "RUN_STARTED", runId: input.runId });
      expect(events.at(-1)).toMatchObject({ type: "RUN_FINISHED" });
      expect(
        (events[0] as BaseEvent & { input?: { messages: { id: string }[] } }).input?.messages,
      ).toEqual([expect.objectContaining({ id: `u-${via}` })]);
      await collectFrames((await running).body!, () => false);
    });

    it(`${via}: a connect behind a running run bridges it and the queued client run`, async () => {
      const threadId = `busy-${via}`;
      const server1 = await tl.startRun({ threadId, agentId: "gate" });
      const gate = await GateAgent.nth(0);
      gate.started();
      gate.text("g1", "working");
      await waitFor(async () => ((await tl.store.threads.get(threadId))?.lastSeq ?? 0) >= 3, "log");
      const input = runInput(threadId, { forwardedProps: fast });
      const running = post(`${base()}/agent/demo/run`, input);
      await queued(threadId, input.runId);
      const reader = new FrameReader(
        (await post(`${base()}/agent/demo/connect`, runInput(threadId))).body!,
      );
      gate.emit({ type: "TEXT_MESSAGE_END", messageId: "g1" } as BaseEvent);
      gate.finish();
      await reader.until(() => false);
      const events = eventsOf(reader.frames);
      await verifyWithAgUi(events);
      const runs = events
        .filter((e) => e.type === "RUN_STARTED")
        .map((e) => (e as { runId?: string }).runId);
      // The snapshot run, the server run re-opened, then the client's run.
      expect(runs.slice(1)).toEqual([server1.runId, input.runId]);
      expect(events.at(-1)?.type).toBe("RUN_FINISHED");
      await collectFrames((await running).body!, () => false);
    });

    it(`${via}: stop of a queued run ends its run stream and the connects waiting for it`, async () => {
      const threadId = `stop-${via}`;
      hold();
      const input = runInput(threadId, { forwardedProps: fast });
      const running = post(`${base()}/agent/demo/run`, input);
      await queued(threadId, input.runId);
      const waiting = post(`${base()}/agent/demo/connect`, runInput(threadId));
      await attached(threadId, 2);
      const stop = await post(`${base()}/agent/demo/stop/${threadId}`, { runId: input.runId });
      expect(await stop.json()).toMatchObject({ stopped: true });
      expect((await tl.store.runs.get(threadId, input.runId))?.status).toBe("cancelled");
      const own = eventsOf(await collectFrames((await running).body!, () => false));
      await verifyWithAgUi(own);
      expect(own).toEqual([
        expect.objectContaining({ type: "RUN_STARTED", runId: input.runId }),
        expect.objectContaining({
          type: "RUN_FINISHED",
          metadata: { threadline: expect.objectContaining({ outcome: "cancelled" }) },
        }),
      ]);
      // Nothing of the run reached the log, so the connect that waited for it shows nothing.
      expect(eventsOf(await collectFrames((await waiting).body!, () => false))).toEqual([]);
      release();
    });
  }

  it("runner: run() registers the run before anyone subscribes; isRunning and stop act at once", async () => {
    hold();
    const input = runInput("eager", { forwardedProps: fast });
    const stream = runner.run({ threadId: "eager", agent: new DemoAgent(), input });
    expect(await runner.isRunning({ threadId: "eager" })).toBe(true);
    expect(await runner.stop({ threadId: "eager" })).toBe(true);
    expect((await tl.store.runs.get("eager", input.runId))?.status).toBe("cancelled");
    expect(await runner.isRunning({ threadId: "eager" })).toBe(false);
    const events: BaseEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      stream.subscribe({ next: (e) => events.push(e), complete: resolve, error: reject }),
    );
    await verifyWithAgUi(events);
    expect(events.at(-1)).toMatchObject({
      type: "RUN_FINISHED",
      metadata: { threadline: { outcome: "cancelled" } },
    });
    release();
  });
});
