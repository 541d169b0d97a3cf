import type { Interrupt } from "@ag-ui/core";
import { afterEach, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { InterruptingAgent } from "../helpers/agents.js";
import { interceptStore } from "../helpers/intercept-store.js";

// Two answers to one interrupt racing (a person and the expiry, two tabs): each checks its
// resume against the pending interrupts, then enqueues. The first can start — and its
// RUN_STARTED answer the interrupt — between the second's check and its enqueue; the store
// confirms at the enqueue that the interrupts are still the checked ones, so exactly one wins.

const approval: Interrupt = { id: "approve", reason: "approval" };
let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 50 });
});

it("the second of two answers checked against the same interrupt is refused when the first ran in between", async () => {
  let hold: (() => Promise<void>) | undefined;
  const store = interceptStore(createMemoryStore(), async (method, call, args) => {
    // The second answer's enqueue waits here, after its check, until the first has run.
    if (method === "runs.enqueue" && hold) {
      const wait = hold;
      hold = undefined;
      await wait();
    }
    return call(...args);
  });
  tl = createThreadline({ store, agents: { hitl: new InterruptingAgent([approval]) } });
  const t = tl;
  await t.ready;
  await t.startRun({ threadId: "r", agentId: "hitl" });
  await t.coordinator.idle("r");
  expect((await t.store.threads.head("r"))!.interrupts).toEqual([approval]);

  const answer = (status: "resolved" | "cancelled") =>
    t.startRun({
      threadId: "r",
      agentId: "hitl",
      multitask: "reject",
      input: { resume: [{ interruptId: approval.id, status }] },
    });
  hold = async () => {
    await answer("resolved");
    await t.coordinator.idle("r");
  };
  const second = await answer("cancelled").catch((e: unknown) => e);
  // The first answered it; the second, checked against it, finds it gone.
  expect(ThreadlineError.is(second, "INTERRUPT_NOT_FOUND")).toBe(true);
  const runs = await t.store.runs.list("r", { limit: 10 });
  expect(runs).toHaveLength(2);
  expect((await t.store.threads.head("r"))!.interrupts).toEqual([]);
});
