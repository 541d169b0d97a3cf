import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";

/**
 * An agent's own RUN_STARTED may carry the input it ran with. The log keeps one RUN_STARTED per
 * run (Threadline's, with provenance); what the agent's input adds is kept as snapshots.
 */
let tl: Threadline;
beforeEach(() => {
  GateAgent.reset();
  tl = createThreadline({ store: createMemoryStore(), agents: { gate: new GateAgent() } });
});
afterEach(async () => {
  await tl.close({ graceMs: 50 });
});

const logOf = async (threadId: string) =>
  (await tl.store.threads.read(threadId, { after: 0, limit: 1000 })).map((r) => r.event);

async function runWith(threadId: string, agentInput: unknown) {
  const { runId } = await tl.startRun({
    threadId,
    agentId: "gate",
    input: {
      messages: [{ id: "u1", role: "user", content: "hello" }],
      state: { mood: "calm" },
    },
  });
  const run = await GateAgent.nth(GateAgent.runs.length);
  run.emit({ type: "RUN_STARTED", threadId, runId, input: agentInput } as BaseEvent);
  run.finish();
  await waitFor(
    async () => (await tl.store.runs.get(threadId, runId))?.status === "succeeded",
    "the run to succeed",
  );
  return logOf(threadId);
}

describe("an agent's RUN_STARTED input", () => {
  it("adds the messages the thread has not seen and a different state", async () => {
    const log = await runWith("adds", {
      threadId: "adds",
      runId: "x",
      messages: [
        { id: "u1", role: "user", content: "hello" },
        { id: "sys-1", role: "system", content: "You are brief." },
        { id: "ui-1", role: "activity", activityType: "card", content: {} },
      ],
      state: { mood: "calm", memory: ["likes tea"] },
      tools: [],
      context: [],
    });
    await verifyWithAgUi(log);
    expect(log.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "MESSAGES_SNAPSHOT",
      "STATE_SNAPSHOT",
      "RUN_FINISHED",
    ]);
    const thread = (await tl.store.threads.get("adds"))!;
    expect(thread.messages.map((m) => m.id)).toEqual(["u1", "sys-1"]);
    expect(thread.state).toEqual({ mood: "calm", memory: ["likes tea"] });
  });

  it("adds nothing when it echoes the input it was given", async () => {
    const log = await runWith("echo", {
      threadId: "echo",
      runId: "x",
      messages: [{ id: "u1", role: "user", content: "hello" }],
      state: { mood: "calm" },
    });
    expect(log.map((e) => e.type)).toEqual(["RUN_STARTED", "RUN_FINISHED"]);
  });
});
