import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import type { FollowItem } from "../../src/core/follow.js";
import type { DataLossListener, ThreadStore } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { readFrames } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

/**
 * The core's side of a store that lost its data (PROTOCOL.md §2.8), on a memory store that the
 * test declares lost: every follower ends — one inside a run with the synthetic `abort`
 * RUN_ERROR first — and its local run stops. The Redis detection itself: test/faults.
 */
let tl: Threadline;
let lose: (error: ThreadlineError) => void;
beforeEach(async () => {
  GateAgent.reset();
  const listeners = new Set<DataLossListener>();
  const store: ThreadStore = {
    ...createMemoryStore(),
    onDataLost(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  lose = (error) => {
    for (const l of listeners) l(error);
  };
  tl = createThreadline({ store, agents: { gate: new GateAgent() } });
  await tl.ready;
});
afterEach(async () => {
  await tl.close({ graceMs: 10 });
});

const lost = () => new ThreadlineError("DATA_LOST", "the test store lost its data");

describe("followers of a store that lost its data", () => {
  it("a follower inside a run gets the run's RUN_ERROR (abort), then the iteration throws", async () => {
    await tl.store.threads.ensure("t");
    const seen: FollowItem[] = [];
    const following = (async () => {
      for await (const item of tl.follow("t", { after: 0, replay: "full" })) seen.push(item);
    })();
    await tl.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    run.text("m1", "hello");
    await waitFor(() => seen.length >= 3, "the run to stream");

    lose(lost());
    const error = await following.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ThreadlineError.is(error, "DATA_LOST")).toBe(true);
    const last = seen.at(-1)!;
    expect(last.kind).toBe("abort");
    expect(last.event).toMatchObject({ type: "RUN_ERROR", code: "DATA_LOST" });
    expect(seen.filter((i) => i.kind === "abort")).toHaveLength(1);
    await verifyWithAgUi(seen.map((i) => i.event));
    // Its local run stopped: the agent was unsubscribed, nothing waits for it.
    await waitFor(() => run.unsubscribed, "the agent to be stopped");
    await waitFor(() => tl.coordinator.localRun("t") === undefined, "the run to leave");
  });

  it("an SSE follower between runs ends with the marker alone", async () => {
    await tl.store.threads.ensure("idle");
    const res = await tl.app.request("/threads/idle/events?replay=full");
    const frames: { comment?: string; data?: unknown }[] = [];
    const reading = (async () => {
      for await (const f of readFrames(res.body!)) frames.push(f);
    })();
    // The stream is open once its first pull waits on the thread.
    await new Promise((r) => setImmediate(r));
    lose(lost());
    await reading;
    expect(frames).toEqual([{ comment: "data-lost" }]);
  });
});
