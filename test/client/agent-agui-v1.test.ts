import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The whole module graph of this file — ThreadlineAgent's base class included — uses
// @ag-ui/client 1.0 instead of CopilotKit's 0.0.59 pin.
vi.mock("@ag-ui/client", async () => await import("ag-ui-client-v1"));

const { AbstractAgent } = await import("@ag-ui/client");
const { AbstractAgent: V1 } = await import("ag-ui-client-v1");
const { ThreadlineAgent } = await import("../../src/client/index.js");
const { startLoopback } = await import("./loopback.js");
const { waitFor } = await import("../helpers/agents.js");

let s: Awaited<ReturnType<typeof startLoopback>>;
beforeEach(async () => {
  s = await startLoopback();
});
afterEach(async () => {
  await s.close();
});

describe("ThreadlineAgent on @ag-ui/client 1.0", () => {
  it("connects, follows a server-started run and runs without duplicates", async () => {
    expect(AbstractAgent).toBe(V1);
    const agent = new ThreadlineAgent({ url: s.url, agentId: "demo", threadId: "t" });
    expect(agent).toBeInstanceOf(V1);
    const finalized: boolean[] = [];
    agent.subscribe({ onRunFinalized: () => void finalized.push(agent.isRunning) });
    await agent.connectAgent();

    await s.tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { messages: [{ id: "u1", role: "user", content: "one" }] },
    });
    await waitFor(() => finalized.length === 1, "the server-started run");

    agent.addMessage({ id: "u2", role: "user", content: "two" });
    const { newMessages } = await agent.runAgent({ forwardedProps: { demo: { delayMs: 0 } } });
    expect(newMessages.map((m) => (m as { content?: string }).content)).toEqual(["You said: two"]);
    expect(finalized).toEqual([false, false]);
    const thread = await s.tl.store.threads.get("t");
    expect(agent.messages).toEqual(thread?.messages);
    await agent.dispose();
  });
});
