import type { BaseEvent } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Coordinator } from "../../../src/core/coordinator.js";
import { ManualClock } from "../../../src/core/scheduler/manual-clock.js";
import type { ThreadStore } from "../../../src/core/store.js";
import { DemoAgent } from "../../../src/demo/demo-agent.js";
import { GateAgent, waitFor } from "../../helpers/agents.js";
import { readAll, type SuiteContext, uid } from "./fixtures.js";

const LEASE_MS = 1_000;

/**
 * Lease expiry and renewal through two coordinators on the same data, each on its own manual
 * clock: the holder's clock stands still (a paused or partitioned process: it never renews) or
 * moves with the other's (a live holder). Nothing here waits for real time to pass.
 */
export function leaseClockTests(ctx: SuiteContext): void {
  describe("leases on a manual clock (two coordinators)", () => {
    let coordinators: Coordinator[] = [];
    beforeEach(() => {
      GateAgent.reset();
      coordinators = [];
    });
    afterEach(async () => {
      for (const c of coordinators) await c.close(50);
    });

    const coordinator = async (store: ThreadStore, clock: ManualClock) => {
      const c = new Coordinator({
        store,
        agents: { gate: new GateAgent(), demo: new DemoAgent() },
        leaseMs: LEASE_MS,
        clock,
      });
      coordinators.push(c);
      await c.start();
      return c;
    };

    const status = (store: ThreadStore, t: string, runId: string) =>
      store.runs.get(t, runId).then((r) => r?.status);

    /** A run of `holder` that started and emitted, then hangs (its agent never ends). */
    const hangingRun = async (holder: Coordinator, t: string) => {
      const { runId } = await holder.startRun({ threadId: t, agentId: "gate" });
      const run = await GateAgent.nth(0);
      run.started();
      run.text("m1", "half a ");
      await waitFor(
        async () => (await holder.store.threads.head(t))!.lastSeq >= 3,
        "the hanging run's first events",
      );
      return runId;
    };

    /** Coordinator `a` holds a hanging run on thread `t`; `b` on the same data sweeps. */
    const holderAndSweeper = async () => {
      const t0 = Date.now();
      const [clockA, clockB] = [new ManualClock(t0), new ManualClock(t0)];
      const a = await coordinator(ctx.store(), clockA);
      const b = await coordinator(await ctx.peer(), clockB);
      const t = uid("lease");
      const held = await hangingRun(a, t);
      return { clockA, clockB, a, b, t, held };
    };

    it("a holder that stops renewing loses its run once the lease expired on the sweeper's clock; the queue moves on", async () => {
      const { clockB, a, b, t, held } = await holderAndSweeper();
      const next = await b.startRun({
        threadId: t,
        agentId: "demo",
        multitask: "enqueue",
        input: { forwardedProps: { demo: { tokens: 3, delayMs: 0 } } },
      });
      // Sweeps at 0.5 s and just before the expiry find a live lease: nothing happens.
      await clockB.advance(LEASE_MS - 1);
      expect(await status(b.store, t, held)).toBe("running");
      expect(await status(b.store, t, next.runId)).toBe("queued");
      // The sweep at the expiry takes the run over, closes it, and starts the queued run.
      await clockB.advance(LEASE_MS);
      await waitFor(async () => (await status(b.store, t, next.runId)) === "succeeded", "next run");
      const closed = (await b.store.runs.get(t, held))!;
      expect(closed).toMatchObject({ status: "interrupted", error: { code: "INTERRUPTED" } });
      const log = (await readAll(b.store, t)).map((r) => r.event);
      const types: string[] = log.map((e) => e.type);
      const end = types.indexOf("RUN_ERROR");
      // The hanging run's open message is closed before its RUN_ERROR; the next run follows.
      expect(types.slice(0, end + 2)).toEqual([
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_ERROR",
        "RUN_STARTED",
      ]);
      expect((log[end] as BaseEvent & { code?: string }).code).toBe("INTERRUPTED");
      // The old holder is fenced out: its agent's next event cannot reach the log.
      const before = log.length;
      GateAgent.runs[0]!.emit({
        type: "TEXT_MESSAGE_CONTENT",
        messageId: "m1",
        delta: "late",
      } as BaseEvent);
      await a.idle(t);
      expect((await readAll(b.store, t)).length).toBe(before);
    });

    it("a holder that renews keeps its run however long it runs", async () => {
      const { clockA, clockB, b, t, held } = await holderAndSweeper();
      // Ten leases of time in steps of a tenth: the holder renews every third of a lease.
      for (let i = 0; i < 100; i++) {
        await clockA.advance(LEASE_MS / 10);
        await clockB.advance(LEASE_MS / 10);
      }
      expect(await status(b.store, t, held)).toBe("running");
      const run = (await b.store.runs.get(t, held))!;
      expect(run.lease!.expiresAt).toBeGreaterThan(clockB.now());
      GateAgent.runs[0]!.emit({ type: "TEXT_MESSAGE_END", messageId: "m1" } as BaseEvent);
      GateAgent.runs[0]!.finish();
      await waitFor(async () => (await status(b.store, t, held)) === "succeeded", "the run to end");
    });
  });
}
