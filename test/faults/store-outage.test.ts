import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { readAll } from "../conformance/store/fixtures.js";
import { interceptStore } from "../helpers/intercept-store.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

/** A store whose appends fail while `down` is true, as a database that went away would. */
function flakyStore() {
  const state = { down: false, failed: 0 };
  const store = interceptStore(createMemoryStore(), (method, call, args) => {
    if (state.down && method === "threads.append") {
      state.failed += 1;
      return Promise.reject(new Error("connection terminated unexpectedly"));
    }
    return call(...args);
  });
  return { store, state };
}

describe("a store that fails under a running run", () => {
  it.each([
    ["after the run started", 30],
    ["before its RUN_STARTED committed", 0],
  ])("%s: its own process closes it once the store answers again", async (_, streamFirst) => {
    const { store, state } = flakyStore();
    tl = createThreadline({ store, agents: { demo: new DemoAgent() }, leaseMs: 60_000 });
    await tl.ready;
    await store.threads.ensure("o");
    if (streamFirst === 0) state.down = true;
    const { runId } = await tl.startRun({
      threadId: "o",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "hi" }],
        forwardedProps: { demo: { tokens: 500, delayMs: 1 } },
      },
    });
    if (streamFirst > 0) {
      await waitFor(async () => (await readAll(store, "o")).length > streamFirst, "streaming");
      state.down = true;
    }
    await waitFor(() => state.failed >= 3, "a few failed appends (the writer retrying)");
    state.down = false;
    // Long before the lease (60 s) could expire: the run's own process closed it.
    const run = await waitFor(async () => {
      const r = await store.runs.get("o", runId);
      return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
    }, "the run to end");
    expect(run).toMatchObject({ status: "interrupted", error: { code: "INTERRUPTED" } });
    const events = (await readAll(store, "o")).map((r) => r.event);
    await verifyWithAgUi(events);
    expect(events[0]).toMatchObject({ type: "RUN_STARTED", input: { messages: [{ id: "u1" }] } });
    const last = events.at(-1) as BaseEvent & { message: string };
    expect(last.message).toMatch(/store failed while the run was writing: connection terminated/);
    expect((await store.threads.get("o"))?.activeRunId).toBeNull();
  });
});

describe("closing a run after a store failure", () => {
  it("retries on the runtime's clock: the next attempt waits for the clock to pass the backoff", async () => {
    const { store, state } = flakyStore();
    const clock = new ManualClock(Date.parse("2030-01-01T00:00:00.000Z"));
    tl = createThreadline({
      store,
      agents: { demo: new DemoAgent() },
      leaseMs: 60_000,
      clock,
      copilotkit: false,
      metrics: false,
      tracing: false,
    });
    await tl.ready;
    await store.threads.ensure("o");
    const armed = clock.pending;
    state.down = true;
    const { runId } = await tl.startRun({ threadId: "o", agentId: "demo" });
    // The run's RUN_STARTED fails, then the first attempt to close the run.
    await waitFor(() => state.failed >= 2, "the run's append and a first close attempt");
    // Its lease renewal and the backoff before the next attempt, both on the clock.
    await waitFor(() => clock.pending === armed + 2, "the backoff timer on the clock");
    expect(state.failed).toBe(2);
    await clock.advance(99);
    expect(state.failed).toBe(2);
    await clock.advance(1);
    await waitFor(() => state.failed === 3, "the second close attempt");
    state.down = false;
    // The backoff doubled: 200 ms of the clock to the attempt that succeeds.
    await waitFor(() => clock.pending === armed + 2, "the next backoff timer");
    await clock.advance(200);
    const run = await waitFor(async () => {
      const r = await store.runs.get("o", runId);
      return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
    }, "the run to end");
    expect(run).toMatchObject({ status: "interrupted", error: { code: "INTERRUPTED" } });
    expect(state.failed).toBe(3);
  });
});
