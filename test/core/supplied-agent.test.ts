import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { OverridingAgent } from "../helpers/overriding-agent.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline;
beforeEach(() => {
  GateAgent.reset();
  tl = createThreadline({ store: createMemoryStore(), agents: { gate: new GateAgent() } });
});
afterEach(async () => {
  await tl.close({ graceMs: 50 });
});

const logOf = async (threadId: string) =>
  (await tl.store.threads.read(threadId, { after: 0, limit: 10_000 })).map((r) => r.event);
const statusOf = async (threadId: string, runId: string) =>
  (await tl.store.runs.get(threadId, runId))?.status;
const ended = (threadId: string, runId: string) =>
  waitFor(async () => {
    const s = await statusOf(threadId, runId);
    return s && s !== "running" && s !== "queued" ? s : undefined;
  }, `run ${runId} to end`);

describe("coordinator: a caller-supplied agent instance", () => {
  it("executes that instance (not a clone, overridden runAgent) for an agent id the registry lacks", async () => {
    const agent = new OverridingAgent();
    const { runId } = await tl.startRun({
      threadId: "t",
      agentId: "copilot",
      agent,
      trigger: { kind: "client" },
      input: {
        messages: [{ id: "u1", role: "user", content: "hi" }],
        forwardedProps: { x: 1 },
      },
    });
    expect(await ended("t", runId)).toBe("succeeded");
    expect(agent.clones).toBe(0);
    expect(agent.seen).toEqual({ messages: ["hi"], forwardedProps: { x: 1 } });
    const log = await logOf("t");
    await verifyWithAgUi(log);
    expect(log[0]).toMatchObject({
      type: "RUN_STARTED",
      input: { messages: [{ id: "u1" }] },
      metadata: { threadline: { trigger: { kind: "client" }, agentId: "copilot" } },
    });
    expect(log.map((e) => e.type)).toContain("TEXT_MESSAGE_CONTENT");
    expect((await tl.store.threads.get("t"))?.messages.map((m) => m.content)).toEqual([
      "hi",
      "overridden",
    ]);
  });

  it("waits in the queue behind the active run and then runs the supplied instance", async () => {
    const first = await tl.startRun({ threadId: "t", agentId: "gate" });
    const gate = await GateAgent.nth(0);
    const agent = new OverridingAgent();
    const queued = await tl.startRun({
      threadId: "t",
      agentId: "gate",
      agent,
      multitask: "enqueue",
    });
    expect(queued.status).toBe("queued");
    gate.started();
    gate.finish();
    expect(await ended("t", first.runId)).toBe("succeeded");
    expect(await ended("t", queued.runId)).toBe("succeeded");
    // The queued run used the supplied instance, not a second GateAgent.
    expect(GateAgent.runs.length).toBe(1);
    expect(agent.seen).toBeDefined();
    await verifyWithAgUi(await logOf("t"));
  });

  it("a rejected or cancelled-while-queued supplied run never executes", async () => {
    const first = await tl.startRun({ threadId: "t", agentId: "gate" });
    const gate = await GateAgent.nth(0);
    const rejected = new OverridingAgent();
    await expect(
      tl.startRun({ threadId: "t", agentId: "x", agent: rejected, multitask: "reject" }),
    ).rejects.toSatisfy((e) => ThreadlineError.is(e, "THREAD_BUSY"));
    const cancelled = new OverridingAgent();
    const queued = await tl.startRun({
      threadId: "t",
      agentId: "x",
      agent: cancelled,
      multitask: "enqueue",
    });
    expect((await tl.cancelRun("t", queued.runId)).status).toBe("cancelled");
    gate.started();
    gate.finish();
    expect(await ended("t", first.runId)).toBe("succeeded");
    await tl.coordinator.idle("t");
    expect(rejected.seen).toBeUndefined();
    expect(cancelled.seen).toBeUndefined();
  });
});
