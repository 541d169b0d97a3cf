import { CopilotKitCore } from "@copilotkit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineAgent } from "../../src/client/index.js";
import { waitFor } from "../helpers/agents.js";
import { type Loopback, startLoopback } from "./loopback.js";

let s: Loopback;
let agent: ThreadlineAgent;
beforeEach(async () => {
  s = await startLoopback();
  agent = new ThreadlineAgent({ url: s.url, agentId: "demo", threadId: "ck-core" });
});
afterEach(async () => {
  await agent.dispose();
  await s.close();
});

const contents = () => agent.messages.map((m) => m.content);

/**
 * The calls CopilotKit's own core makes (`connectAgent` and `runAgent` both detach first), in the
 * order React's StrictMode makes them: mount, unmount, mount again before the first finished.
 */
describe("ThreadlineAgent driven by CopilotKitCore", () => {
  it("a connect superseded by a detach and a second connect leaves one follow (no double apply)", async () => {
    const core = new CopilotKitCore({ agents__unsafe_dev_only: { demo: agent } });
    const first = core.connectAgent({ agent });
    const detached = agent.detachActiveRun();
    const second = core.connectAgent({ agent });
    await Promise.all([first, detached, second]);

    await s.tl.startRun({
      threadId: "ck-core",
      agentId: "demo",
      trigger: { kind: "schedule", scheduleId: "s" },
      input: { forwardedProps: { demo: { delayMs: 1 } } },
    });
    await waitFor(() => contents().length === 1 && !agent.isRunning, "the tick applied");
    expect(contents()).toEqual(["Tick 1: the thread is alive."]);

    agent.addMessage({ id: "u1", role: "user", content: "hi" });
    await core.runAgent({ agent });
    await s.tl.startRun({
      threadId: "ck-core",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 1 } } },
    });
    await waitFor(() => contents().length === 4 && !agent.isRunning, "the second tick applied");
    expect(contents()).toEqual([
      "Tick 1: the thread is alive.",
      "hi",
      "You said: hi",
      "Tick 3: the thread is alive.",
    ]);
  });
});
