import type { BaseEvent, RunAgentInput } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { RunWriter } from "../../src/core/run-writer.js";
import { TurnBudget } from "../../src/core/turn-budget.js";
import { ViewBuilder } from "../../src/core/view.js";
import { DEMO_LIMITS, DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

const startRun = (demo: unknown) =>
  tl!.app.request("/threads/t/runs", {
    method: "POST",
    body: JSON.stringify({ agentId: "demo", multitask: "enqueue", forwardedProps: { demo } }),
  });

describe("the demo agent's hard limits", () => {
  it("refuse scripts beyond them with 400 before anything is queued", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const cases: [unknown, RegExp][] = [
      [{ tokens: 3e8 }, /forwardedProps\.demo\.tokens/],
      [{ tokens: 1e6, delayMs: 0 }, /forwardedProps\.demo\.tokens/],
      [{ tokens: DEMO_LIMITS.maxTokens + 1 }, /tokens/],
      [{ tokens: -1 }, /tokens/],
      [{ tokens: 1.5 }, /tokens/],
      [{ tokens: Array(DEMO_LIMITS.maxTokens + 1).fill("w") }, /tokens/],
      [{ tokens: ["x".repeat(DEMO_LIMITS.maxBytes + 1)] }, /at most 262144 bytes/],
      [{ delayMs: 1e9 }, /delayMs/],
      [{ fail: "x".repeat(2_000) }, /fail/],
      [{ token: 5 }, /token/],
      ["nope", /demo/],
    ];
    for (const [demo, message] of cases) {
      const res = await startRun(demo);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, JSON.stringify(demo).slice(0, 80)).toBe(400);
      expect(body.error.code).toBe("VALIDATION_FAILED");
      expect(body.error.message).toMatch(message);
    }
    expect(await tl.store.runs.list("t")).toEqual([]);
    // At the limits, runs are accepted.
    expect((await startRun({ tokens: DEMO_LIMITS.maxTokens, delayMs: 0 })).status).toBe(202);
  });

  it("cut a very long message's echo instead of streaming all of it", async () => {
    const agent = new DemoAgent();
    const events: BaseEvent[] = [];
    const input: RunAgentInput = {
      threadId: "t",
      runId: "r",
      messages: [{ id: "u", role: "user", content: "a ".repeat(100_000) }],
      state: {},
      tools: [],
      context: [],
      forwardedProps: { demo: { delayMs: 0 } },
    };
    await new Promise<void>((resolve, reject) =>
      agent.run(input).subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
    );
    const deltas = events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT");
    expect(deltas).toHaveLength(DEMO_LIMITS.maxTokens);
  });

  it("yield to the event loop even without a delay", async () => {
    const agent = new DemoAgent();
    // A clock that ticks once per turn of the event loop: events per tick = work per turn.
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    const input = {
      threadId: "t",
      runId: "r",
      messages: [],
      state: {},
      tools: [],
      context: [],
      forwardedProps: { demo: { tokens: DEMO_LIMITS.maxTokens, delayMs: 0 } },
    } as RunAgentInput;
    await new Promise<void>((resolve, reject) =>
      agent.run(input).subscribe({
        next: () => perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1),
        error: reject,
        complete: resolve,
      }),
    );
    ticking = false;
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(DEMO_LIMITS.yieldEvery + 2);
    expect(perTurn.size).toBeGreaterThan(DEMO_LIMITS.maxTokens / DEMO_LIMITS.yieldEvery - 1);
  });
});

describe("no agent holds the event loop with its events", () => {
  it("the run writer makes the agent wait a turn once a turn used its budget", async () => {
    let now = 0;
    const writer = new RunWriter({
      store: createMemoryStore(),
      threadId: "t",
      fence: { runId: "r", token: 1 },
      view: new ViewBuilder([], {}),
      onFatal: () => undefined,
      turns: new TurnBudget(10, () => now),
    });
    const content = (delta: string) =>
      ({ type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta }) as BaseEvent;
    writer.write({ type: "TEXT_MESSAGE_START", messageId: "m", role: "assistant" } as BaseEvent);
    expect(writer.write(content("a"))).toBeUndefined();
    now = 11;
    const wait = writer.write(content("b"));
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(writer.write(content("c"))).toBeUndefined();
  });
});
