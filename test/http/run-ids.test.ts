import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { fastInput, postHook, settledRuns } from "../helpers/triggers.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

const post = (path: string, body: unknown) =>
  Promise.resolve(tl!.app.request(path, { method: "POST", body: JSON.stringify(body) }));

async function errorOf(res: Response) {
  return {
    status: res.status,
    ...((await res.json()) as { error: { code: string; message: string } }).error,
  };
}

const agentRun = (runId: string) => ({
  threadId: "ck",
  runId,
  messages: [],
  tools: [],
  context: [],
  state: {},
  forwardedProps: { demo: { tokens: 1, delayMs: 0 } },
});

describe("client-chosen run ids", () => {
  it("cannot take a future schedule tick's id: the tick still runs", async () => {
    const clock = new ManualClock(T0);
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      clock,
      schedules: [
        { id: "beat", agentId: "demo", threadId: "s", everyMs: 1000, input: fastInput() },
      ],
    });
    await tl.ready;
    const { nextFireAt } = await tl.scheduler.get("beat");
    const tickRunId = `schedule:beat:${nextFireAt}`;
    for (const path of ["/threads/s/runs", "/threads/other/runs"]) {
      const err = await errorOf(await post(path, { agentId: "demo", runId: tickRunId }));
      expect(err).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
      expect(err.message).toMatch(/reserved/);
    }
    const ck = await errorOf(
      await post("/agent/demo/run", { ...agentRun(tickRunId), threadId: "s" }),
    );
    expect(ck).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    // Server code is held to the same rule.
    await expect(tl.startRun({ threadId: "s", agentId: "demo", runId: tickRunId })).rejects.toThrow(
      /reserved/,
    );

    await clock.advance(1000);
    const [run] = await settledRuns(tl.store, "s", 1);
    expect(run).toMatchObject({
      runId: tickRunId,
      trigger: { kind: "heartbeat", scheduleId: "beat" },
    });
  });

  it("cannot take a webhook delivery's id or look like a snapshot run", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      hooks: [{ id: "gh", secret: "s", agentId: "demo", thread: "h", input: fastInput() }],
    });
    const delivered = await postHook(tl, "gh", {}, { secret: "s", delivery: "d1" });
    expect(delivered.status).toBe(202);
    const { runId } = (await delivered.json()) as { runId: string };
    expect(runId).toMatch(/^hook:gh:/);
    const next = runId.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    for (const id of [next, "hook:gh:x", "threadline-snapshot-1"]) {
      expect((await post("/threads/h/runs", { agentId: "demo", runId: id })).status, id).toBe(400);
      expect((await post("/agent/demo/run", agentRun(id))).status, id).toBe(400);
    }
    // Ids that only look alike elsewhere in the string are fine.
    expect((await post("/threads/h2/runs", { agentId: "demo", runId: "my-hook:1" })).status).toBe(
      202,
    );
  });

  it("CopilotKit runs must use ids the native routes can address", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    for (const id of ["a/b", "has space", "x".repeat(201), "", "ü"]) {
      const err = await errorOf(await post("/agent/demo/run", agentRun(id)));
      expect(err, JSON.stringify(id)).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    }
    expect(await tl.store.runs.list("ck")).toEqual([]);
    const ok = await post("/agent/demo/run", agentRun("r-1"));
    expect(ok.status).toBe(200);
    await ok.text();
    expect((await tl.app.request("/threads/ck/runs/r-1")).status).toBe(200);
  });
});
