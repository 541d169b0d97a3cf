import { afterEach, beforeEach, expect, it } from "vitest";
import { Coordinator } from "../../src/core/coordinator.js";
import { ManualClock } from "../../src/core/scheduler/manual-clock.js";
import type { ThreadStore } from "../../src/core/store.js";
import { type BackendData, forEachBackend } from "../backends.js";
import { GateAgent } from "../helpers/agents.js";
import { OverridingAgent } from "../helpers/overriding-agent.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";

const LEASE_MS = 10_000;
const SWEEP_MS = LEASE_MS / 2;

// A caller-supplied agent instance lives in the process that accepted the run. When the run ends
// or runs anywhere else, that process must let the instance go (issue 13, item 4).

await forEachBackend("a supplied agent is released when its run ends elsewhere", (backend) => {
  let data: BackendData;
  let coordinators: Coordinator[] = [];
  beforeEach(async () => {
    GateAgent.reset();
    coordinators = [];
    data = await backend.fresh("supplied");
  });
  afterEach(async () => {
    for (const c of coordinators) await c.close(50);
    await data.cleanup();
  });

  const coordinator = async (clock: ManualClock) => {
    const store = await data.open();
    const c = new Coordinator({
      store,
      agents: { gate: new GateAgent() },
      leaseMs: LEASE_MS,
      clock,
    });
    coordinators.push(c);
    await c.start();
    return { c, store, clock };
  };

  /** `a` runs a gate run on `t`; `b` queues a run with a supplied agent behind it. */
  const setup = async () => {
    const t0 = Date.now();
    const a = await coordinator(new ManualClock(t0));
    const b = await coordinator(new ManualClock(t0));
    const t = `t-${Math.random().toString(36).slice(2)}`;
    await a.c.startRun({ threadId: t, agentId: "gate" });
    const gate = await GateAgent.nth(0);
    gate.started();
    const agent = new OverridingAgent();
    const queued = await b.c.startRun({
      threadId: t,
      agentId: "gate",
      agent,
      multitask: "enqueue",
    });
    expect(queued.status).toBe("queued");
    // b's pump found the thread busy and stopped (else it could claim the run once `a`'s ends).
    await b.c.idle(t);
    expect(b.c.suppliedHere).toBe(1);
    return { a, b, t, gate, agent, runId: queued.runId };
  };

  const status = (store: ThreadStore, t: string, runId: string) =>
    store.runs.get(t, runId).then((r) => r?.status);

  it("another process executed the run", async () => {
    const { a, b, t, gate, agent, runId } = await setup();
    gate.finish();
    // `a` claims the queued run and runs its own `gate` agent for it.
    const second = await GateAgent.nth(1);
    second.started();
    second.finish();
    expect((await endedRun(a.store, t, runId)).status).toBe("succeeded");
    expect(b.c.suppliedHere).toBe(1);
    await b.clock.advance(SWEEP_MS);
    expect(b.c.suppliedHere).toBe(0);
    expect(agent.seen).toBeUndefined();
  });

  it("another process holds the run (claimed, then taken over)", async () => {
    const { b, t, gate, runId } = await setup();
    gate.finish();
    await GateAgent.nth(1); // `a` runs it and hangs: its clock stands still, it never renews
    expect(await status(b.store, t, runId)).toBe("running");
    await b.clock.advance(SWEEP_MS);
    expect(b.c.suppliedHere).toBe(0);
    // b's sweep takes the expired run over and closes it; nothing of it is held here.
    await b.clock.advance(LEASE_MS);
    expect((await endedRun(b.store, t, runId)).status).toBe("interrupted");
    expect(b.c.suppliedHere).toBe(0);
  });

  it("another process cancelled the run while it was queued", async () => {
    const { a, b, t, gate, runId } = await setup();
    expect((await a.c.cancelRun(t, runId)).status).toBe("cancelled");
    await b.clock.advance(SWEEP_MS);
    expect(b.c.suppliedHere).toBe(0);
    gate.finish();
  });

  it("another process deleted the thread", async () => {
    const { a, b, t } = await setup();
    expect(await a.store.threads.delete(t)).toBe(true);
    await b.clock.advance(SWEEP_MS);
    expect(b.c.suppliedHere).toBe(0);
  });

  it("this process deleted the thread (forgetThread)", async () => {
    const { b, t } = await setup();
    b.c.forgetThread(t);
    expect(b.c.suppliedHere).toBe(0);
  });

  it("a queued run this process executes keeps its supplied agent until it runs", async () => {
    const { b, t, agent, runId } = await setup();
    // The sweep leaves a queued run's instance alone.
    await b.clock.advance(SWEEP_MS);
    expect(b.c.suppliedHere).toBe(1);
    // The holder `a` closes now, so `b` (on its next sweep) is the one that claims the run.
    await coordinators[0]!.close(50);
    await b.clock.advance(SWEEP_MS);
    await waitFor(() => agent.seen, "the supplied agent to run");
    expect((await endedRun(b.store, t, runId)).status).toBe("succeeded");
    expect(b.c.suppliedHere).toBe(0);
  });
});
