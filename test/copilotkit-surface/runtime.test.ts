import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CopilotRuntime, createCopilotRuntimeHandler } from "@copilotkit/runtime/v2";
import { createCopilotNodeHandler } from "@copilotkit/runtime/v2/node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  attachThreadlineSocket,
  ThreadlineAgentRunner,
  withThreadline,
} from "../../src/copilotkit/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { RawPhoenix } from "../helpers/phoenix-client.js";
import { waitFor } from "../helpers/wait-for.js";

process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function serve(wake: boolean, hooks?: Parameters<typeof withThreadline>[0]["hooks"]) {
  const store = createMemoryStore();
  const runner = new ThreadlineAgentRunner({ store, agents: { demo: new DemoAgent() } });
  const runtime = new CopilotRuntime({ agents: { demo: new DemoAgent() }, runner });
  const base = { runtime, basePath: "/api/copilotkit", cors: true, ...(hooks ? { hooks } : {}) };
  const options = wake ? withThreadline(base, { runner }) : base;
  const server = createServer(createCopilotNodeHandler(createCopilotRuntimeHandler(options)));
  const detach = wake ? attachThreadlineSocket(server, options) : () => undefined;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/copilotkit`;
  closers.push(async () => {
    detach();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await runner.close({ graceMs: 50 });
    await store.close();
  });
  const runOn = async (threadId: string, words: string[]) => {
    const { runId } = await runner.coordinator.startRun({
      threadId,
      agentId: "demo",
      input: {
        messages: [{ id: `${threadId}-u`, role: "user", content: "hi" }],
        forwardedProps: { demo: { tokens: words, delayMs: 1 } },
      },
    });
    await runner.coordinator.idle(threadId);
    return runId;
  };
  return { url, runner, store, runOn };
}

describe("a plain CopilotRuntime with ThreadlineAgentRunner keeps CopilotKit's /threads endpoints", () => {
  it("lists and inspects threads through the runner's local thread endpoints", async () => {
    const { url, runner, runOn } = await serve(false);
    await runOn("plain-1", ["hello ", "there"]);
    await runner.localThreads().refresh();
    const info = (await (await fetch(`${url}/info`)).json()) as Record<string, unknown>;
    expect(info.threadEndpoints).toMatchObject({ list: true, inspect: true });
    expect(info).not.toHaveProperty("intelligence");
    const list = (await (await fetch(`${url}/threads?agentId=demo`)).json()) as {
      threads: { id: string; agentId: string }[];
    };
    expect(list.threads.map((t) => [t.id, t.agentId])).toEqual([["plain-1", "demo"]]);
    const msgs = (await (await fetch(`${url}/threads/plain-1/messages`)).json()) as {
      messages: { role: string; content?: string }[];
    };
    expect(msgs.messages.map((m) => m.content)).toEqual(["hi", "hello there"]);
    const events = (await (await fetch(`${url}/threads/plain-1/events`)).json()) as {
      events: { type: string }[];
    };
    expect(events.events.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "MESSAGES_SNAPSHOT",
      "STATE_SNAPSHOT",
      "RUN_FINISHED",
    ]);
    // A later run shows up without anything but the run (the run-start signal refreshes it).
    await runOn("plain-2", ["again"]);
    await waitFor(
      async () =>
        ((await (await fetch(`${url}/threads?agentId=demo`)).json()) as { threads: unknown[] })
          .threads.length === 2,
      "the second thread in the list",
    );
  });
});

describe("withThreadline on a CopilotRuntime", () => {
  it("advertises the wake, answers thread routes from the store, keeps the user's hooks", async () => {
    const seen: string[] = [];
    const { url, runOn } = await serve(true, {
      onBeforeHandler: ({ route }) => {
        seen.push(route.method);
      },
    });
    await runOn("rt-1", ["one"]);
    const info = (await (await fetch(`${url}/info`)).json()) as Record<string, unknown>;
    expect(info.intelligence).toEqual({ wsUrl: `${url.replace("http:", "ws:")}/socket` });
    expect(info.threadEndpoints).toEqual({
      list: true,
      inspect: true,
      mutations: true,
      realtimeMetadata: true,
    });
    const list = await fetch(`${url}/threads?agentId=demo&limit=1`);
    expect(list.headers.get("access-control-allow-origin")).toBeTruthy();
    const body = (await list.json()) as { threads: { id: string }[]; joinCode: string };
    expect(body.threads.map((t) => t.id)).toEqual(["rt-1"]);
    expect(seen).toContain("threads/list");

    const renamed = await fetch(`${url}/threads/rt-1`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentId: "demo", name: "Named" }),
    });
    expect(await renamed.json()).toMatchObject({ id: "rt-1", name: "Named" });
    const bad = await fetch(`${url}/threads/rt-1`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ archived: "yes" }),
    });
    expect(bad.status).toBe(400);

    // The socket on the same server announces the runtime's runs.
    const token = (
      (await (await fetch(`${url}/threads/subscribe`, { method: "POST", body: "{}" })).json()) as {
        joinToken: string;
      }
    ).joinToken;
    const socket = await RawPhoenix.open(`${url.replace("http:", "ws:")}/socket`, token);
    closers.push(async () => socket.close());
    expect((await socket.join(`user_meta:${body.joinCode}`)).status).toBe("ok");
    const runId = await runOn("rt-2", ["two"]);
    await socket.next((f) => f[3] === "thread_run_activity" && f[4].runId === runId);

    const deleted = await fetch(`${url}/threads/rt-2`, { method: "DELETE", body: "{}" });
    expect(await deleted.json()).toEqual({ threadId: "rt-2", deleted: true });
  });

  it("attachThreadlineSocket needs the options withThreadline returned", () => {
    expect(() => attachThreadlineSocket(createServer(), { hooks: {} })).toThrow(/withThreadline/);
  });
});
