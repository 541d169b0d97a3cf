import type { BaseEvent } from "@ag-ui/core";
import { afterEach, expect, it } from "vitest";
import type { FollowItem } from "../../src/core/follow.js";
import { isTerminalEvent } from "../../src/core/run-tracker.js";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createPool } from "../../src/stores/postgres/connection.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { readAll } from "../conformance/store/fixtures.js";
import { dropSchema, freshSchema, pgAdmin } from "../helpers/pg.js";
import { describeWithService, PG_URL, probePostgres } from "../helpers/services.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

const probe = await probePostgres();

describeWithService(probe, "postgres: connections that die under a run", () => {
  let tl: Threadline | undefined;
  let schema: string | undefined;
  afterEach(async () => {
    await tl?.close({ graceMs: 100 });
    tl = undefined;
    if (schema) await dropSchema(schema);
  });

  it("a client the pool hands out always has an error listener (a dead backend never goes unheard)", async () => {
    const pool = createPool({ connectionString: PG_URL, pool: { max: 2 } });
    try {
      // New clients (created for this borrow) and reused ones alike.
      for (let i = 0; i < 4; i++) {
        const client = await pool.connect();
        expect(client.listenerCount("error"), `borrow ${i}`).toBeGreaterThan(0);
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("terminated backends mid-run: the process lives, the run ends validly, nothing is lost", async () => {
    schema = freshSchema("pgfault");
    // Our own connections only: the database is shared with other test runs.
    const app = `tl-fault-${process.pid}-${Date.now().toString(36)}`;
    const store = await createPostgresStore({
      connectionString: PG_URL,
      schema,
      pool: { max: 4, application_name: app },
    });
    tl = createThreadline({ store, agents: { demo: new DemoAgent() }, leaseMs: 2_000 });
    await tl.ready;
    await store.threads.ensure("f");
    const follow = tl.follow("f", { after: 0, replay: "full" });
    const seen: FollowItem[] = [];
    const following = (async () => {
      for await (const item of follow) {
        seen.push(item);
        if (isTerminalEvent(item.event)) return;
      }
    })();
    const { runId } = await tl.startRun({
      threadId: "f",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "stream while the database drops" }],
        forwardedProps: { demo: { tokens: 2_000, delayMs: 1 } },
      },
    });
    await waitFor(() => seen.length > 20, "the run to stream");

    // Terminate every backend of this store, again and again, while the run writes.
    let kills = 0;
    while (kills < 40 && !TERMINAL_RUN_STATUSES.has((await runStatus(tl, runId)) ?? "queued")) {
      const rows = await pgAdmin<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE application_name IN ($1, $2) AND pid <> pg_backend_pid()`,
        [app, `threadline-listen:${schema}`],
      );
      kills += rows[0]?.n ?? 0;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(kills, "backends terminated").toBeGreaterThan(0);

    const run = await waitFor(
      async () => {
        const r = await tl!.store.runs.get("f", runId).catch(() => null);
        return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
      },
      "the run to end",
      20_000,
    );
    await following;
    const log = await readAll(tl.store, "f");
    const events = log.map((r) => r.event);
    await verifyWithAgUi(events);
    // The run's prompt and its end are in the log; the follower got every event once, in order.
    expect(events[0]).toMatchObject({ type: "RUN_STARTED", input: { messages: [{ id: "u1" }] } });
    const last = events.at(-1) as BaseEvent & { code?: string; message?: string };
    if (run.status === "interrupted") {
      expect(last).toMatchObject({ type: "RUN_ERROR", code: "INTERRUPTED" });
      expect(last.message).toMatch(/store failed/);
    } else {
      expect(run.status, JSON.stringify(run)).toBe("succeeded");
    }
    expect(
      seen.map((i) => i.seq),
      "what the follower saw",
    ).toEqual(log.map((r) => r.seq));
    // Still serving: a new run on the same thread completes.
    const next = await tl.startRun({
      threadId: "f",
      agentId: "demo",
      multitask: "enqueue",
      input: { forwardedProps: { demo: { tokens: 2, delayMs: 0 } } },
    });
    await waitFor(
      async () => (await runStatus(tl!, next.runId)) === "succeeded",
      "a new run",
      15_000,
    );
  });
});

/** The run's status; undefined while the store is unreachable (our own reads fail too). */
async function runStatus(tl: Threadline, runId: string) {
  return (await tl.store.runs.get("f", runId).catch(() => null))?.status;
}
