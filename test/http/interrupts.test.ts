import type { BaseEvent, Interrupt } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { InterruptingAgent } from "../helpers/agents.js";
import { collectFrames, eventsOf } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { endedRun } from "../helpers/wait-for.js";

const approval: Interrupt = {
  id: "approve-email",
  reason: "tool_call",
  message: "Send the email?",
  responseSchema: {
    type: "object",
    properties: { approved: { type: "boolean" } },
    required: ["approved"],
  },
};

let tl: Threadline;
beforeEach(() => {
  InterruptingAgent.inputs = [];
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { hitl: new InterruptingAgent([approval]) },
  });
});
afterEach(() => tl.close({ graceMs: 100 }));

async function run(threadId: string, body: Record<string, unknown>): Promise<Response> {
  return tl.app.request(`/threads/${threadId}/runs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agentId: "hitl", multitask: "enqueue", ...body }),
  });
}

async function runToEnd(threadId: string, body: Record<string, unknown>): Promise<string> {
  const res = await run(threadId, body);
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  await endedRun(tl.store, threadId, runId);
  return runId;
}

async function replay(threadId: string, mode: "full" | "compact"): Promise<BaseEvent[]> {
  const res = await tl.app.request(`/threads/${threadId}/events?replay=${mode}&follow=false`);
  expect(res.status).toBe(200);
  return eventsOf(await collectFrames(res.body!, () => false));
}

describe("pending interrupts over HTTP (PROTOCOL.md §3.1)", () => {
  it("a run that ends with an interrupt outcome leaves them on the thread; replays state them in AG-UI terms", async () => {
    await runToEnd("t1", { messages: [{ id: "u1", role: "user", content: "email them" }] });
    const thread = (await (await tl.app.request("/threads/t1")).json()) as {
      interrupts: Interrupt[];
    };
    expect(thread.interrupts).toEqual([approval]);

    const compact = await replay("t1", "compact");
    expect(compact.at(-1)).toMatchObject({
      type: "RUN_FINISHED",
      outcome: { type: "interrupt", interrupts: [approval] },
    });
    await verifyWithAgUi(compact);
    const full = await replay("t1", "full");
    expect(full.at(-1)).toMatchObject({ outcome: { type: "interrupt", interrupts: [approval] } });
    await verifyWithAgUi(full);
  });

  it("the resume run's agent gets the answers; its RUN_STARTED carries them; none stay pending", async () => {
    await runToEnd("t2", {});
    const resume = [{ interruptId: approval.id, status: "resolved", payload: { approved: true } }];
    const runId = await runToEnd("t2", { resume });
    expect(InterruptingAgent.inputs.at(-1)?.resume).toEqual(resume);
    const thread = (await (await tl.app.request("/threads/t2")).json()) as {
      interrupts: Interrupt[];
    };
    expect(thread.interrupts).toEqual([]);
    const full = await replay("t2", "full");
    const started = full.filter((e) => e.type === "RUN_STARTED").at(-1) as unknown as {
      runId: string;
      input?: { resume?: unknown };
    };
    expect(started.runId).toBe(runId);
    expect(started.input?.resume).toEqual(resume);
    await verifyWithAgUi(full);
    const compact = await replay("t2", "compact");
    expect(compact.at(-1)).not.toHaveProperty("outcome");
    await verifyWithAgUi(compact);
  });

  it("a resume that is not a list of AG-UI resume entries is refused", async () => {
    const res = await run("t3", { resume: [{ interruptId: "x", status: "maybe" }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "VALIDATION_FAILED",
    );
  });
});
