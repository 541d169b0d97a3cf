import type { BaseEvent, Interrupt } from "@ag-ui/core";
import { lastValueFrom, toArray } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ThreadlineAgentRunner } from "../../src/copilotkit/index.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DEMO_INTERRUPT, DemoAgent } from "../../src/demo/demo-agent.js";
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

  it("CopilotKit's resume naming the run that asked gets a run of its own (§3.1.9)", async () => {
    // useInterrupt (react-core 1.74) resumes with `runAgent({ resume, runId: <the asking run> })`.
    const ckRun = (runId: string, extra: Record<string, unknown>) =>
      tl.app.request("/agent/hitl/run", {
        method: "POST",
        body: JSON.stringify({
          threadId: "t6",
          runId,
          messages: [],
          state: {},
          tools: [],
          context: [],
          forwardedProps: {},
          ...extra,
        }),
      });
    const asked = await ckRun("ck-asks", {});
    expect(asked.status).toBe(200);
    const askedEvents = eventsOf(await collectFrames(asked.body!, () => false));
    expect(askedEvents.at(-1)).toMatchObject({ runId: "ck-asks", outcome: { type: "interrupt" } });

    const resume = [{ interruptId: approval.id, status: "resolved", payload: { approved: true } }];
    const resumed = await ckRun("ck-asks", { resume });
    expect(resumed.status).toBe(200);
    const events = eventsOf(await collectFrames(resumed.body!, () => false));
    const started = events[0] as unknown as { type: string; runId: string };
    expect(started.type).toBe("RUN_STARTED");
    expect(started.runId).not.toBe("ck-asks");
    expect(events.at(-1)).toMatchObject({ type: "RUN_FINISHED", runId: started.runId });
    await verifyWithAgUi([...askedEvents, ...events]);
    expect((await tl.store.threads.head("t6"))!.interrupts).toEqual([]);
    expect((await tl.store.runs.list("t6", { limit: 5 })).map((r) => r.runId)).toEqual([
      started.runId,
      "ck-asks",
    ]);
    // Without a resume, a run id stays one run's: the same id again is a conflict.
    const again = await ckRun("ck-asks", {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("CONFLICT");
  });

  it("a resume that is not a list of AG-UI resume entries is refused", async () => {
    const res = await run("t3", { resume: [{ interruptId: "x", status: "maybe" }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "VALIDATION_FAILED",
    );
  });
});

describe("resume is validated before anything is stored (PROTOCOL.md §3.1.4)", () => {
  const start = Date.parse("2030-01-01T00:00:00.000Z");
  const expiring: Interrupt = { ...approval, expiresAt: new Date(start + 3_600_000).toISOString() };
  const detail: Interrupt = { id: "which-address", reason: "input_required" };
  let clock: ManualClock;
  let ck: Threadline;

  beforeEach(async () => {
    clock = new ManualClock(start);
    ck = createThreadline({
      store: createMemoryStore(),
      clock,
      agents: { hitl: new InterruptingAgent([expiring, detail]) },
    });
    const res = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({ agentId: "hitl" }),
    });
    const { runId } = (await res.json()) as { runId: string };
    await endedRun(ck.store, "w", runId);
  });
  afterEach(() => ck.close({ graceMs: 100 }));

  /** Everything a refused request could have changed. */
  async function snapshot(threadId: string) {
    const thread = await (await ck.app.request(`/threads/${threadId}`)).json();
    const runs = await (await ck.app.request(`/threads/${threadId}/runs`)).json();
    return { thread, runs, log: await ck.store.threads.read(threadId, { after: 0 }) };
  }

  const resolved = (interruptId: string, payload?: unknown) => ({
    interruptId,
    status: "resolved",
    ...(payload === undefined ? {} : { payload }),
  });
  const cancelled = (interruptId: string) => ({ interruptId, status: "cancelled" });

  const refusals: [string, unknown[] | undefined, number, string][] = [
    ["no resume at all", undefined, 409, "INTERRUPTS_PENDING"],
    ["a missing id", [resolved(expiring.id, { approved: true })], 409, "INTERRUPTS_PENDING"],
    [
      "an unknown id",
      [resolved(expiring.id, { approved: true }), cancelled(detail.id), cancelled("nope")],
      404,
      "INTERRUPT_NOT_FOUND",
    ],
    [
      "an id answered twice",
      [cancelled(expiring.id), cancelled(detail.id), cancelled(detail.id)],
      400,
      "VALIDATION_FAILED",
    ],
    [
      "a payload its responseSchema refuses",
      [resolved(expiring.id, { approved: "yes" }), cancelled(detail.id)],
      400,
      "VALIDATION_FAILED",
    ],
    [
      "no payload where the responseSchema wants one",
      [resolved(expiring.id), cancelled(detail.id)],
      400,
      "VALIDATION_FAILED",
    ],
  ];

  it.each(
    refusals,
  )("the native route refuses %s; the thread is unchanged", async (_, resume, status, code) => {
    const before = await snapshot("w");
    const res = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({
        agentId: "hitl",
        multitask: "enqueue",
        ...(resume ? { resume } : {}),
      }),
    });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; details?: unknown } };
    expect(body.error.code).toBe(code);
    // Refused by the store's enqueue (no resume: no head read first), the refusal still names
    // every interrupt the run leaves unanswered.
    if (resume === undefined)
      expect(body.error.details).toEqual({ missing: [expiring.id, detail.id] });
    expect(await snapshot("w")).toEqual(before);
  });

  it.each(
    refusals,
  )("the CopilotKit run route refuses %s; the thread is unchanged", async (_, resume, status, code) => {
    const before = await snapshot("w");
    const res = await ck.app.request("/agent/hitl/run", {
      method: "POST",
      body: JSON.stringify({
        threadId: "w",
        runId: "ck-run",
        messages: [],
        state: {},
        tools: [],
        context: [],
        forwardedProps: {},
        ...(resume ? { resume } : {}),
      }),
    });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(await snapshot("w")).toEqual(before);
  });

  it("the schema's errors say what is wrong", async () => {
    const res = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({
        agentId: "hitl",
        resume: [resolved(expiring.id, { approved: "yes" }), cancelled(detail.id)],
      }),
    });
    const { error } = (await res.json()) as {
      error: { message: string; details: { interruptId: string; errors: unknown[] } };
    };
    expect(error.message).toContain("/approved must be boolean");
    expect(error.details).toEqual({
      interruptId: expiring.id,
      errors: [{ path: "/approved", message: "must be boolean" }],
    });
  });

  it("a resume to a thread that does not exist creates nothing", async () => {
    const res = await ck.app.request("/threads/nowhere/runs", {
      method: "POST",
      body: JSON.stringify({ agentId: "hitl", resume: [cancelled("x")] }),
    });
    expect(res.status).toBe(404);
    expect((await ck.app.request("/threads/nowhere")).status).toBe(404);
  });

  it("past its expiresAt (on the server's clock) an interrupt can only be cancelled", async () => {
    await clock.advance(3_600_000);
    const before = await snapshot("w");
    const late = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({
        agentId: "hitl",
        resume: [resolved(expiring.id, { approved: true }), cancelled(detail.id)],
      }),
    });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe(
      "INTERRUPT_EXPIRED",
    );
    expect(await snapshot("w")).toEqual(before);
    const ok = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({
        agentId: "hitl",
        resume: [cancelled(expiring.id), resolved(detail.id)],
      }),
    });
    expect(ok.status).toBe(202);
    const { runId } = (await ok.json()) as { runId: string };
    await endedRun(ck.store, "w", runId);
    expect((await ck.store.threads.head("w"))!.interrupts).toEqual([]);
  });

  it("a valid resume before the expiry starts the run", async () => {
    await clock.advance(3_599_000);
    const ok = await ck.app.request("/threads/w/runs", {
      method: "POST",
      body: JSON.stringify({
        agentId: "hitl",
        resume: [resolved(expiring.id, { approved: true }), cancelled(detail.id)],
      }),
    });
    expect(ok.status).toBe(202);
  });

  it("ThreadlineAgentRunner refuses an invalid resume with one RUN_ERROR; the thread is unchanged", async () => {
    const runner = new ThreadlineAgentRunner({ store: ck.store });
    try {
      const before = await snapshot("w");
      const agent = new InterruptingAgent();
      agent.agentId = "hitl";
      const events = await lastValueFrom(
        runner
          .run({
            threadId: "w",
            agent,
            input: {
              threadId: "w",
              runId: "runner-run",
              messages: [],
              state: {},
              tools: [],
              context: [],
              forwardedProps: {},
              resume: [cancelled(expiring.id)] as never,
            },
          })
          .pipe(toArray()),
      );
      expect(events).toMatchObject([{ type: "RUN_ERROR", code: "INTERRUPTS_PENDING" }]);
      expect(await snapshot("w")).toEqual(before);
    } finally {
      await runner.close({ graceMs: 50 });
    }
  });
  it("ThreadlineAgentRunner gives a resume naming the run that asked a run of its own (§3.1.9)", async () => {
    const runner = new ThreadlineAgentRunner({ store: ck.store });
    try {
      const [asked] = await ck.store.runs.list("w", { limit: 1 });
      const agent = new InterruptingAgent();
      agent.agentId = "hitl";
      const events = await lastValueFrom(
        runner
          .run({
            threadId: "w",
            agent,
            input: {
              threadId: "w",
              runId: asked!.runId,
              messages: [],
              state: {},
              tools: [],
              context: [],
              forwardedProps: {},
              resume: [cancelled(expiring.id), cancelled(detail.id)] as never,
            },
          })
          .pipe(toArray()),
      );
      const started = events[0] as unknown as { type: string; runId: string };
      expect(started.type).toBe("RUN_STARTED");
      expect(started.runId).not.toBe(asked!.runId);
      expect(events.at(-1)).toMatchObject({ type: "RUN_FINISHED", runId: started.runId });
      await verifyWithAgUi(events);
      expect((await ck.store.threads.head("w"))!.interrupts).toEqual([]);
    } finally {
      await runner.close({ graceMs: 50 });
    }
  });
});

describe("POST /threads/:id/interrupts/:interruptId (PROTOCOL.md §3.1.5)", () => {
  const detail: Interrupt = { id: "which-address", reason: "input_required" };
  const ADMIN = "admin-token-for-interrupts";
  let hitl: Threadline;
  beforeEach(() => {
    hitl = createThreadline({
      store: createMemoryStore(),
      token: ADMIN,
      agents: {
        hitl: new InterruptingAgent([approval]),
        two: new InterruptingAgent([approval, detail]),
      },
    });
  });
  afterEach(() => hitl.close({ graceMs: 100 }));

  const call = (path: string, body: unknown) =>
    hitl.app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  async function interruptedThread(threadId: string, agentId: string): Promise<void> {
    const res = await call(`/threads/${threadId}/runs`, { agentId });
    const { runId } = (await res.json()) as { runId: string };
    await endedRun(hitl.store, threadId, runId);
  }

  it("starts the resume run with the answer, by the agent that asked, recording who answered", async () => {
    await interruptedThread("r1", "hitl");
    const res = await call(`/threads/r1/interrupts/${approval.id}`, {
      status: "resolved",
      payload: { approved: true },
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const run = await endedRun(hitl.store, "r1", runId);
    expect(run).toMatchObject({
      agentId: "hitl",
      status: "succeeded",
      trigger: { kind: "client", source: "interrupt" },
      startedBy: { kind: "token", id: "token" },
      input: {
        resume: [{ interruptId: approval.id, status: "resolved", payload: { approved: true } }],
      },
    });
    expect(InterruptingAgent.inputs.at(-1)?.resume).toEqual(run.input.resume);
    expect((await hitl.store.threads.head("r1"))!.interrupts).toEqual([]);
  });

  it("with other interrupts pending, they must be answered in the same request", async () => {
    await interruptedThread("r2", "two");
    const alone = await call(`/threads/r2/interrupts/${detail.id}`, { status: "cancelled" });
    expect(alone.status).toBe(409);
    expect(((await alone.json()) as { error: { code: string } }).error.code).toBe(
      "INTERRUPTS_PENDING",
    );
    const both = await call(`/threads/r2/interrupts/${detail.id}`, {
      status: "cancelled",
      resume: [{ interruptId: approval.id, status: "resolved", payload: { approved: false } }],
    });
    expect(both.status).toBe(202);
  });

  it("refuses an interrupt that is not pending, a bad answer and an unknown thread, storing nothing", async () => {
    await interruptedThread("r3", "hitl");
    const before = await hitl.store.runs.list("r3");
    const unknown = await call("/threads/r3/interrupts/nope", { status: "cancelled" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe(
      "INTERRUPT_NOT_FOUND",
    );
    const bad = await call(`/threads/r3/interrupts/${approval.id}`, {
      status: "resolved",
      payload: { approved: 1 },
    });
    expect(bad.status).toBe(400);
    const status = await call(`/threads/r3/interrupts/${approval.id}`, { status: "maybe" });
    expect(status.status).toBe(400);
    expect(await hitl.store.runs.list("r3")).toEqual(before);
    const none = await call(`/threads/none/interrupts/${approval.id}`, { status: "cancelled" });
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe(
      "THREAD_NOT_FOUND",
    );
  });
});

describe("the demo agent interrupts when scripted (forwardedProps.demo.interrupt)", () => {
  let demo: Threadline;
  beforeEach(() => {
    demo = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  });
  afterEach(() => demo.close({ graceMs: 100 }));

  const post = (path: string, body: unknown) =>
    demo.app.request(path, { method: "POST", body: JSON.stringify(body) });

  it("asks for an approval, and its resume run says what it was answered", async () => {
    const res = await post("/threads/d1/runs", {
      agentId: "demo",
      forwardedProps: { demo: { interrupt: true, delayMs: 0 } },
    });
    const { runId } = (await res.json()) as { runId: string };
    await endedRun(demo.store, "d1", runId);
    const pending = (await demo.store.threads.head("d1"))!.interrupts;
    expect(pending).toEqual([{ ...DEMO_INTERRUPT, id: `approve-${runId}` }]);

    const refused = await post(`/threads/d1/interrupts/approve-${runId}`, { status: "resolved" });
    expect(refused.status).toBe(400);
    const answered = await post(`/threads/d1/interrupts/approve-${runId}`, {
      status: "resolved",
      payload: { approved: true },
    });
    expect(answered.status).toBe(202);
    const resumed = (await answered.json()) as { runId: string };
    await endedRun(demo.store, "d1", resumed.runId);
    const thread = (await demo.store.threads.get("d1"))!;
    expect(thread.interrupts).toEqual([]);
    expect(thread.messages.at(-1)).toMatchObject({
      role: "assistant",
      content: `You answered: approve-${runId} resolved {"approved":true}`,
    });
    const res2 = await demo.app.request("/threads/d1/events?replay=full&follow=false");
    await verifyWithAgUi(eventsOf(await collectFrames(res2.body!, () => false)));
  });

  it("takes the interrupt's fields from the script, within limits", async () => {
    const res = await post("/threads/d2/runs", {
      agentId: "demo",
      forwardedProps: {
        demo: {
          delayMs: 0,
          interrupt: { id: "pick", reason: "input_required", expiresAt: "2030-01-01T00:00:00Z" },
        },
      },
    });
    const { runId } = (await res.json()) as { runId: string };
    await endedRun(demo.store, "d2", runId);
    expect((await demo.store.threads.head("d2"))!.interrupts).toEqual([
      {
        ...DEMO_INTERRUPT,
        id: "pick",
        reason: "input_required",
        expiresAt: "2030-01-01T00:00:00Z",
      },
    ]);
    const bad = await post("/threads/d3/runs", {
      agentId: "demo",
      forwardedProps: { demo: { interrupt: { id: "x", expiresAt: "tomorrow" } } },
    });
    expect(bad.status).toBe(400);
  });
});
