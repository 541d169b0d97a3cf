import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import type { ThreadStore } from "../../src/core/store.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { OverridingAgent } from "../helpers/overriding-agent.js";
import { collectFrames, eventsOf } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { post, type RuntimeServer, runInput, serveRuntime, stockAgent } from "./runtime-helpers.js";

vi.hoisted(() => {
  process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "threadline-ck-runner-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Stack {
  store: ThreadStore;
  runner: ThreadlineAgentRunner;
  rt: RuntimeServer;
  close(): Promise<void>;
}

/** A CopilotRuntime whose runner owns a coordinator on a SQLite file (the 3-line swap). */
async function boot(): Promise<Stack> {
  const store = createSqliteStore({ path: join(dir, "threads.db") });
  const runner = new ThreadlineAgentRunner({ store });
  const rt = await serveRuntime({ demo: new DemoAgent(), copilot: new OverridingAgent() }, runner);
  return {
    store,
    runner,
    rt,
    async close() {
      await rt.close();
      await runner.close({ graceMs: 50 });
      await store.close();
    },
  };
}

describe("ThreadlineAgentRunner on its own store", () => {
  it("runs the runtime's agents (overridden runAgent too) into a durable thread that survives a restart", async () => {
    const first = await boot();
    const chat = stockAgent(first.rt.url, "d-1", "copilot");
    chat.addMessage({ id: "u1", role: "user", content: "hi" });
    const one = await chat.runAgent();
    expect(one.newMessages.map((m) => m.content)).toEqual(["overridden"]);

    const demo = stockAgent(first.rt.url, "d-1", "demo");
    await demo.connectAgent();
    demo.addMessage({ id: "u2", role: "user", content: "still there?" });
    await demo.runAgent({ forwardedProps: { demo: { delayMs: 1 } } });
    expect(demo.messages.map((m) => m.content)).toEqual([
      "hi",
      "overridden",
      "still there?",
      "You said: still there?",
    ]);
    const runs = await first.store.runs.list("d-1");
    expect(runs.map((r) => [r.agentId, r.trigger.kind, r.status])).toEqual([
      ["demo", "client", "succeeded"],
      ["copilot", "client", "succeeded"],
    ]);
    await first.close();

    // A new process on the same file: the thread is still there, replayed by connect.
    const second = await boot();
    const res = await post(`${second.rt.url}/agent/demo/connect`, runInput("d-1"));
    const replay = eventsOf(await collectFrames(res.body!, () => false));
    await verifyWithAgUi(replay);
    const late = stockAgent(second.rt.url, "d-1");
    await late.connectAgent();
    expect(late.messages.map((m) => m.content)).toEqual(demo.messages.map((m) => m.content));
    await second.close();
  });
});
