import type { BaseEvent } from "@ag-ui/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FollowItem } from "../../src/core/follow.js";
import { isTerminalEvent } from "../../src/core/run-tracker.js";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { readAll } from "../conformance/store/fixtures.js";
import { type PrivatePostgres, startPrivatePostgres } from "../helpers/private-services.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * A PostgreSQL of our own (the shared one serves other test runs), restarted and stopped under
 * a live Threadline: the process survives, runs end validly, /readyz tells the outage.
 */
let server: PrivatePostgres;
let tl: Threadline;
beforeAll(async () => {
  server = await startPrivatePostgres();
  const store = await createPostgresStore({ connectionString: server.url, pool: { max: 4 } });
  tl = createThreadline({ store, agents: { demo: new DemoAgent() }, leaseMs: 3_000 });
  await tl.ready;
}, 60_000);
afterAll(async () => {
  await tl?.close({ graceMs: 50 });
  await server?.destroy();
});

const readyz = async () => {
  const res = await tl.app.request("/readyz");
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
};

describe("a PostgreSQL restart under a run", () => {
  it("the process lives, the run ends validly, the follower gets every event once", async () => {
    await tl.store.threads.ensure("r");
    const seen: FollowItem[] = [];
    const following = (async () => {
      for await (const item of tl.follow("r", { after: 0, replay: "full" })) {
        seen.push(item);
        if (isTerminalEvent(item.event)) return;
      }
    })();
    const { runId } = await tl.startRun({
      threadId: "r",
      agentId: "demo",
      input: {
        messages: [{ id: "u1", role: "user", content: "keep going" }],
        forwardedProps: { demo: { tokens: 5_000, delayMs: 1 } },
      },
    });
    await waitFor(() => seen.length > 20, "the run to stream");
    // The restart must hit an append in flight (an append is one short statement: between two
    // of them a restart could go unnoticed): hold the thread's row until one waits on it.
    const blocker = new pg.Client({ connectionString: server.url });
    blocker.on("error", () => undefined);
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM threadline.threads WHERE thread_id = 'r' FOR UPDATE`);
    await waitFor(async () => {
      const { rows } = await blocker.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      );
      return rows.length > 0;
    }, "an append to wait on the thread's row");
    await server.restart("fast");
    await blocker.end().catch(() => undefined);
    const run = await waitFor(
      async () => {
        const r = await tl.store.runs.get("r", runId).catch(() => null);
        return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
      },
      "the run to end",
      20_000,
    );
    await following;
    const log = await readAll(tl.store, "r");
    await verifyWithAgUi(log.map((r) => r.event));
    expect(run.status).toBe("interrupted");
    expect((log.at(-1)!.event as BaseEvent & { message: string }).message).toMatch(/store failed/);
    expect(seen.map((i) => i.seq)).toEqual(log.map((r) => r.seq));
  });

  it("/readyz says 503 with the reason while the store is down, /healthz stays 200", async () => {
    expect((await readyz()).status).toBe(200);
    await server.stop("fast");
    try {
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body.error?.message).toMatch(/not ready: the postgres store is unavailable: /);
      expect((await tl.app.request("/healthz")).status).toBe(200);
    } finally {
      await server.start();
    }
    await waitFor(async () => (await readyz()).status === 200, "ready again", 10_000);
  });
});
