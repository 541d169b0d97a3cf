import { type BaseEvent, EventType } from "@ag-ui/core";
import { afterEach, beforeEach, expect, it } from "vitest";
import { RUN_ERROR_AGENT_FAILED } from "../../src/protocol.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { type BackendData, forEachBackend } from "../backends.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { endedRun } from "../helpers/wait-for.js";

// An agent's event JSON cannot hold is the agent's fault, not the store's: what it wrote before
// is kept, the run fails with RUN_ERROR AGENT_ERROR (not INTERRUPTED "the store failed").

const cycle = (): BaseEvent => {
  const value: Record<string, unknown> = {};
  value.self = value;
  return { type: EventType.CUSTOM, name: "cycle", value } as BaseEvent;
};

const bad: Array<[string, () => BaseEvent]> = [
  ["a BigInt", () => ({ type: EventType.CUSTOM, name: "big", value: 10n }) as BaseEvent],
  ["a cycle", cycle],
  [
    "a BigInt in the agent's own RUN_FINISHED",
    () => ({ type: EventType.RUN_FINISHED, result: { n: 1n } }) as unknown as BaseEvent,
  ],
];

await forEachBackend("an agent event JSON cannot hold", (backend) => {
  let data: BackendData;
  let tl: Threadline;
  beforeEach(async () => {
    GateAgent.reset();
    data = await backend.fresh("agent-json");
    tl = createThreadline({ store: await data.open(), agents: { gate: new GateAgent() } });
  });
  afterEach(async () => {
    await tl.close({ graceMs: 50 });
    await data.cleanup();
  });

  for (const [what, event] of bad) {
    it(`${what}: the events before it are kept and the run fails with AGENT_ERROR`, async () => {
      const { runId } = await tl.startRun({ threadId: "t", agentId: "gate" });
      const gate = await GateAgent.nth(0);
      gate.started();
      // All in one tick: one batch with the good events before and after the bad one.
      gate.text("m1", "kept");
      gate.emit({ type: EventType.TEXT_MESSAGE_END, messageId: "m1" } as BaseEvent);
      const e = event();
      gate.emit(e);
      // (After its own RUN_FINISHED, @ag-ui/client refuses anything the agent sends.)
      if (e.type !== EventType.RUN_FINISHED)
        gate.emit({ type: EventType.TEXT_MESSAGE_START, messageId: "m2", role: "assistant" });
      const run = await endedRun(tl.store, "t", runId);
      expect(run.status).toBe("failed");
      expect(run.error?.code).toBe(RUN_ERROR_AGENT_FAILED);
      const log = (await tl.store.threads.read("t", { after: 0 })).map((r) => r.event);
      await verifyWithAgUi(log);
      expect(log.map((e) => e.type)).toEqual([
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_ERROR",
      ]);
      expect(log[2]).toMatchObject({ delta: "kept" });
      expect(log[4]).toMatchObject({ code: RUN_ERROR_AGENT_FAILED });
      expect(log[4]).toMatchObject({ message: expect.stringMatching(/cannot be stored/) });
      const thread = await tl.store.threads.get("t");
      expect(thread?.messages.find((m) => m.id === "m1")?.content).toBe("kept");
      // The agent is stopped, and the thread takes its next run.
      await waitFor(() => gate.unsubscribed, "the agent to be stopped");
      const next = await tl.startRun({ threadId: "t", agentId: "gate" });
      const second = await GateAgent.nth(1);
      second.started();
      second.finish();
      expect((await endedRun(tl.store, "t", next.runId)).status).toBe("succeeded");
    });
  }
});
