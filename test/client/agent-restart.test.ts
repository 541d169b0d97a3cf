import { afterEach, describe, expect, it } from "vitest";
import { ThreadlineAgent, ThreadlineClient } from "../../src/client/index.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { type Loopback, startLoopback } from "./loopback.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("ThreadlineAgent across a server restart", () => {
  it("keeps following: the interrupted run ends, the next one is applied, nothing twice", async () => {
    GateAgent.reset();
    // A short lease: the restarted process takes the dead one's run over once it expires.
    const a = await startLoopback({ leaseMs: 400 });
    cleanup.push(() => a.close());
    const agent = new ThreadlineAgent({
      url: a.url,
      agentId: "demo",
      threadId: "t",
      backoff: { initialMs: 20, maxMs: 200 },
    });
    cleanup.push(() => agent.dispose());
    const events: unknown[] = [];
    const errors: string[] = [];
    agent.subscribe({
      onEvent: ({ event }) => {
        events.push(event);
      },
      onRunErrorEvent: ({ event }) => {
        errors.push(String(event.code));
      },
    });
    await agent.connectAgent();

    await a.tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m-crash", "cut ", "off");
    await waitFor(() => agent.messages.length === 1 && agent.isRunning, "the streaming run");
    await a.crash();

    let b: Loopback | undefined;
    cleanup.push(async () => b?.close());
    b = await startLoopback({ data: a.data, port: a.port, leaseMs: 400 });
    await waitFor(() => !agent.isRunning, "the interrupted run to end");
    expect(errors).toEqual(["INTERRUPTED"]);

    await new ThreadlineClient({ baseUrl: b.url }).startRun("t", {
      agentId: "demo",
      messages: [{ id: "u1", role: "user", content: "still there?" }],
      forwardedProps: { demo: { delayMs: 0 } },
    });
    await waitFor(() => agent.messages.length === 3 && !agent.isRunning, "the next run");
    const thread = await new ThreadlineClient({ baseUrl: b.url }).getThread("t");
    expect(agent.messages).toEqual(thread.messages);
    expect(agent.messages.map((m) => (m as { content?: string }).content)).toEqual([
      "cut off",
      "still there?",
      "You said: still there?",
    ]);
    await verifyWithAgUi(events as never);
  });
});
