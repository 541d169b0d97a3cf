import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline;
beforeEach(() => {
  GateAgent.reset();
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { gate: new GateAgent(), demo: new DemoAgent() },
  });
});
afterEach(async () => {
  await tl.close({ graceMs: 50 });
});

async function logOf(threadId: string): Promise<BaseEvent[]> {
  return (await tl.store.threads.read(threadId, { after: 0, limit: 100_000 })).map((r) => r.event);
}

async function runStatus(threadId: string, runId: string) {
  return (await tl.store.runs.get(threadId, runId))?.status;
}

const ended = (threadId: string, runId: string) =>
  waitFor(async () => {
    const s = await runStatus(threadId, runId);
    return s && s !== "running" && s !== "queued" ? s : undefined;
  }, `run ${runId} to end`);

describe("coordinator", () => {
  it("keeps what the agent emitted right before it failed", async () => {
    const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    // All in one synchronous burst: the events are still queued in the agent's pipeline when the
    // error arrives, and must reach the log ahead of the RUN_ERROR rather than be dropped.
    run.started();
    run.text("m1", "half ", "a reply");
    run.fail("model exploded");
    expect(await ended("t", runId)).toBe("failed");
    const log = await logOf("t");
    await verifyWithAgUi(log);
    expect(log.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "TEXT_MESSAGE_START",
      "TEXT_MESSAGE_CONTENT",
      "TEXT_MESSAGE_CONTENT",
      "TEXT_MESSAGE_END",
      "RUN_ERROR",
    ]);
    const thread = await tl.store.threads.get("t");
    expect(thread?.messages.find((m) => m.id === "m1")).toMatchObject({ content: "half a reply" });
  });

  it("closes open messages and writes RUN_ERROR when the agent throws", async () => {
    const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "half a ");
    // The events are committed before the failure (the burst case is the test above).
    await waitFor(async () => (await logOf("t")).length >= 3, "content committed");
    run.fail("model exploded");
    expect(await ended("t", runId)).toBe("failed");
    const log = await logOf("t");
    await verifyWithAgUi(log);
    expect(log.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "TEXT_MESSAGE_START",
      "TEXT_MESSAGE_CONTENT",
      "TEXT_MESSAGE_END",
      "RUN_ERROR",
    ]);
    expect(log[4]).toMatchObject({ code: "AGENT_ERROR", message: "model exploded" });
    const run2 = await tl.store.runs.get("t", runId);
    expect(run2?.error).toEqual({ code: "AGENT_ERROR", message: "model exploded" });
  });

  it("cancel ends the run with RUN_FINISHED outcome cancelled", async () => {
    const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "abc");
    await waitFor(async () => (await logOf("t")).length >= 3, "content committed");
    const after = await tl.cancelRun("t", runId);
    expect(after.status).toBe("cancelled");
    const log = await logOf("t");
    await verifyWithAgUi(log);
    const last = log[log.length - 1] as BaseEvent & {
      metadata?: { threadline?: { outcome?: string } };
    };
    expect(last.type).toBe("RUN_FINISHED");
    expect(last.metadata?.threadline?.outcome).toBe("cancelled");
    // Events the agent emits after the cancel are dropped, not appended after the terminal event.
    run.emit({ type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "late" } as BaseEvent);
    expect((await logOf("t")).length).toBe(log.length);
  });

  it("a run the agent ends without RUN_FINISHED is closed validly, as INCOMPLETE_STREAM", async () => {
    const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "the agent never finishes its message");
    run.emit({ type: "STEP_STARTED", stepName: "s" } as BaseEvent);
    run.complete();
    expect(await ended("t", runId)).toBe("failed");
    const log = await logOf("t");
    await verifyWithAgUi(log);
    expect(log.map((e) => e.type).slice(-3)).toEqual([
      "TEXT_MESSAGE_END",
      "STEP_FINISHED",
      "RUN_ERROR",
    ]);
    expect(log.at(-1)).toMatchObject({ code: "INCOMPLETE_STREAM" });
  });

  it("multitask: reject → THREAD_BUSY, enqueue → FIFO, interrupt → cancels the active run", async () => {
    const first = await tl.startRun({ threadId: "t", agentId: "gate" });
    await GateAgent.nth(0);
    await expect(
      tl.startRun({ threadId: "t", agentId: "gate", multitask: "reject" }),
    ).rejects.toSatisfy(
      (e) => ThreadlineError.is(e, "THREAD_BUSY") && (e as ThreadlineError).status === 409,
    );
    const second = await tl.startRun({ threadId: "t", agentId: "gate", multitask: "enqueue" });
    const third = await tl.startRun({ threadId: "t", agentId: "gate", multitask: "enqueue" });
    expect(second.status).toBe("queued");
    const fourth = await tl.startRun({ threadId: "t", agentId: "gate", multitask: "interrupt" });
    expect(fourth.interrupted).toBe(first.runId);
    expect(await ended("t", first.runId)).toBe("cancelled");
    // The interrupting run goes first, then the FIFO.
    const r1 = await GateAgent.nth(1);
    expect(r1.input.runId).toBe(fourth.runId);
    r1.started();
    r1.finish();
    const r2 = await GateAgent.nth(2);
    expect(r2.input.runId).toBe(second.runId);
    r2.started();
    r2.finish();
    const r3 = await GateAgent.nth(3);
    expect(r3.input.runId).toBe(third.runId);
    r3.started();
    r3.finish();
    await ended("t", third.runId);
    await verifyWithAgUi(await logOf("t"));
  });

  it("assembles server-run input from the thread's messages and state; RUN_STARTED carries only new messages", async () => {
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "one" }],
        forwardedProps: { demo: { delayMs: 0 } },
      },
    });
    await waitFor(
      async () =>
        (await tl.store.threads.get("t"))?.activeRunId === null && (await logOf("t")).length > 0,
      "first run",
    );
    const { runId } = await tl.startRun({
      threadId: "t",
      agentId: "gate",
      trigger: { kind: "schedule", scheduleId: "s1" },
    });
    const run = await GateAgent.nth(0);
    expect(run.input.messages.map((m) => m.id)).toEqual([
      "u1",
      `msg-${(await tl.store.runs.list("t"))[1]!.runId}`,
    ]);
    expect(run.input.state).toMatchObject({ turns: 1 });
    run.started();
    run.finish();
    await ended("t", runId);
    const started = (await logOf("t")).filter((e) => e.type === "RUN_STARTED") as Array<
      BaseEvent & {
        input?: { messages: unknown[] };
        metadata?: { threadline?: { trigger?: unknown } };
      }
    >;
    expect(started[0]!.input!.messages).toHaveLength(1);
    expect(started[1]!.input!.messages).toHaveLength(0);
    expect(started[1]!.metadata?.threadline?.trigger).toEqual({
      kind: "schedule",
      scheduleId: "s1",
    });
  });

  it("a run id already used on the thread is a CONFLICT", async () => {
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      runId: "r1",
      input: { forwardedProps: { demo: { delayMs: 0 } } },
    });
    await expect(
      tl.startRun({ threadId: "t", agentId: "demo", runId: "r1", multitask: "enqueue" }),
    ).rejects.toSatisfy(
      (e) => ThreadlineError.is(e, "CONFLICT") && (e as ThreadlineError).status === 409,
    );
  });

  it("unknown agent is AGENT_NOT_FOUND", async () => {
    await expect(tl.startRun({ threadId: "t", agentId: "nope" })).rejects.toSatisfy((e) =>
      ThreadlineError.is(e, "AGENT_NOT_FOUND"),
    );
  });
});

describe("coordinator queue pump", () => {
  it("a run enqueued while the pump's last claim is still answering is not left waiting", async () => {
    // An async store answers a claim later than the enqueue that follows it: hold the pump's
    // empty answer until a new run has been enqueued behind it.
    let hold: { reached: () => void; release: Promise<void> } | undefined;
    const inner = createMemoryStore();
    const store = interceptStore(inner, async (method, call, args) => {
      const answer = await call(...args);
      const h = hold;
      if (method === "runs.claimNext" && !answer && h) {
        hold = undefined;
        h.reached();
        await h.release;
      }
      return answer;
    });
    const local = createThreadline({
      store,
      agents: { gate: new GateAgent(), demo: new DemoAgent() },
    });
    try {
      await local.ready;
      const first = await local.startRun({ threadId: "q", agentId: "gate" });
      const run = await GateAgent.nth(0);
      let reached!: () => void;
      const atLastClaim = new Promise<void>((r) => {
        reached = r;
      });
      let release!: () => void;
      hold = { reached, release: new Promise<void>((r) => (release = r)) };
      run.started();
      run.finish();
      await atLastClaim; // the pump found the queue empty; its answer is not back yet

      const second = await local.startRun({
        threadId: "q",
        agentId: "demo",
        multitask: "enqueue",
        input: { forwardedProps: { demo: { delayMs: 0, tokens: 1 } } },
      });
      release();
      await waitFor(
        async () =>
          (await store.runs.get("q", second.runId))?.status === "succeeded" ? true : undefined,
        "the second run to run",
      );
      expect((await store.runs.get("q", first.runId))?.status).toBe("succeeded");
    } finally {
      await local.close({ graceMs: 50 });
    }
  });

  it("starts a queue nobody is running (its enqueuer died before starting it) at the next sweep", async () => {
    const store = createMemoryStore();
    const local = createThreadline({ store, agents: { demo: new DemoAgent() }, leaseMs: 500 });
    try {
      await local.ready; // the start-up pass is over: only the periodic sweep can find this run
      await store.threads.ensure("orphan");
      const { run } = await store.runs.enqueue(
        {
          runId: "r-orphan",
          threadId: "orphan",
          agentId: "demo",
          trigger: { kind: "api" },
          status: "queued",
          input: { forwardedProps: { demo: { delayMs: 0, tokens: 1 } } },
          createdAt: Date.now(),
        },
        "enqueue",
      );
      expect(run.status).toBe("queued");
      await waitFor(
        async () =>
          (await store.runs.get("orphan", "r-orphan"))?.status === "succeeded" ? true : undefined,
        "the orphaned run to be started by the sweep",
      );
    } finally {
      await local.close({ graceMs: 50 });
    }
  });
});
