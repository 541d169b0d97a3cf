import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { triggerKinds } from "./runtime-helpers.js";

let tl: Threadline;
let runner: ThreadlineAgentRunner;
beforeEach(() => {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  // An existing coordinator: the runner adds its own fan-out and owns its follows.
  runner = new ThreadlineAgentRunner({ coordinator: tl.coordinator });
});
afterEach(async () => {
  await runner.close();
  await tl.close({ graceMs: 50 });
});

const fast = { demo: { delayMs: 1, tokens: 2 } };

/** Subscribes to a runner stream, recording its events and whether it completed. */
function watch(stream: ReturnType<ThreadlineAgentRunner["connect"]>) {
  const seen = { events: [] as BaseEvent[], done: false, error: undefined as unknown };
  const sub = stream.subscribe({
    next: (e) => seen.events.push(e),
    complete: () => {
      seen.done = true;
    },
    error: (e) => {
      seen.error = e;
    },
  });
  return { seen, sub };
}

const finished = (events: BaseEvent[]) => events.filter((e) => e.type === "RUN_FINISHED").length;

describe("ThreadlineAgentRunner streams (no runtime)", () => {
  it("a following connect sees every run until unsubscribed; close() ends the rest", async () => {
    await tl.startRun({ threadId: "o-1", agentId: "demo", input: { forwardedProps: fast } });
    await tl.coordinator.idle("o-1");
    const a = watch(runner.connect({ threadId: "o-1", headers: { "X-Threadline-Follow": "1" } }));
    // The replay (a snapshot run) is read after the live tail is attached: from here on, live.
    await waitFor(() => finished(a.seen.events) === 1, "the snapshot run");
    for (let i = 0; i < 2; i++) {
      await tl.startRun({
        threadId: "o-1",
        agentId: "demo",
        multitask: "enqueue",
        input: { forwardedProps: fast },
      });
    }
    await waitFor(() => finished(a.seen.events) === 3, "two live runs followed");
    await verifyWithAgUi(a.seen.events);
    expect(triggerKinds(a.seen.events)).toEqual([undefined, "api", "api"]);
    expect(a.seen.done).toBe(false);
    a.sub.unsubscribe();

    const b = watch(
      runner.connect({ threadId: "o-1", headers: { "x-threadline-follow": "true" } }),
    );
    await waitFor(() => finished(b.seen.events) === 1, "the snapshot run");
    await runner.close();
    await waitFor(() => b.seen.done, "the follow to end on close");
    expect(b.seen.error).toBeUndefined();
  });

  it("run streams its own run; isRunning and stop follow the thread's active run", async () => {
    const r = watch(
      runner.run({
        threadId: "o-2",
        agent: new DemoAgent(),
        input: {
          threadId: "o-2",
          runId: "client-run-1",
          messages: [{ id: "m1", role: "user", content: "hey" }],
          state: {},
          tools: [],
          context: [],
          forwardedProps: { demo: { delayMs: 20, tokens: 200 } },
        },
      }),
    );
    await waitFor(() => runner.isRunning({ threadId: "o-2" }), "active");
    expect(await runner.stop({ threadId: "o-2", runId: "someone-else" })).toBe(false);
    expect(await runner.stop({ threadId: "o-2", runId: "client-run-1" })).toBe(true);
    await waitFor(() => r.seen.done, "the run stream to end");
    await verifyWithAgUi(r.seen.events);
    expect(r.seen.events[0]).toMatchObject({ type: "RUN_STARTED", runId: "client-run-1" });
    expect(r.seen.events.at(-1)).toMatchObject({
      type: "RUN_FINISHED",
      metadata: { threadline: { outcome: "cancelled" } },
    });
    expect(await runner.isRunning({ threadId: "o-2" })).toBe(false);
    expect(await runner.stop({ threadId: "o-2" })).toBe(false);
  });
});
