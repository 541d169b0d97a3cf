import { afterEach, beforeEach, describe } from "vitest";
import type { ThreadStore } from "../../src/core/store.js";
import { claimTests } from "./store/claims.js";
import { compactionTests } from "./store/compaction.js";
import type { StoreFactory, SuiteContext } from "./store/fixtures.js";
import { guaranteeTests } from "./store/guarantees.js";
import { interruptTests } from "./store/interrupts.js";
import { interruptDueTests } from "./store/interrupts-due.js";
import { leaseClockTests } from "./store/lease-clock.js";
import { liveTests } from "./store/live.js";
import { logTests } from "./store/log.js";
import { principalTests } from "./store/principals.js";
import { restartTests } from "./store/restart.js";
import { runStartTests, sharedRunStartTests } from "./store/run-starts.js";
import { runTests } from "./store/runs.js";
import { sharedTests } from "./store/shared.js";
import { storedTextTests } from "./store/stored-text.js";
import { threadTests } from "./store/threads.js";

export type { StoreFactory } from "./store/fixtures.js";

/**
 * The store conformance suite: every `ThreadStore` backend must pass it. Written once; a backend
 * test file calls `runStoreConformance("sqlite", factory)`. Tests needing `reopen` (restart) or
 * `peer` (two live instances on the same data) are registered only when the factory has them.
 */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    let current: ThreadStore | undefined;
    const opened: ThreadStore[] = [];

    beforeEach(async () => {
      current = await factory.open();
      opened.push(current);
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      current = undefined;
      await factory.cleanup?.();
    });

    const ctx: SuiteContext = {
      factory,
      store() {
        if (!current) throw new Error("no store open");
        return current;
      },
      async restart() {
        if (!factory.reopen) throw new Error(`${name} cannot reopen`);
        await ctx.store().close();
        current = await factory.reopen();
        opened.push(current);
        return current;
      },
      async peer() {
        if (!factory.peer) throw new Error(`${name} has no peer instances`);
        const p = await factory.peer();
        opened.push(p);
        return p;
      },
    };

    logTests(ctx);
    liveTests(ctx);
    storedTextTests(ctx);
    runTests(ctx);
    threadTests(ctx);
    claimTests(ctx);
    guaranteeTests(ctx);
    compactionTests(ctx);
    principalTests(ctx);
    interruptTests(ctx);
    interruptDueTests(ctx);
    runStartTests(ctx);
    if (factory.peer) {
      sharedTests(ctx);
      leaseClockTests(ctx);
      describe("two instances on the same data: run starts", () => sharedRunStartTests(ctx));
    }
    if (factory.reopen) restartTests(ctx);
  });
}
