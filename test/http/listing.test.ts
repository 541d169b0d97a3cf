import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/wait-for.js";

let tl: Threadline;
const get = async (path: string) => {
  const res = await tl.app.request(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  const demo = (extra: Record<string, unknown> = {}) => ({ demo: { delayMs: 0, ...extra } });
  // Thread `t`: five runs, oldest first: ok (api), failed (client), ok (heartbeat), failed (api), ok (client).
  const plan = [
    { kind: "api", fail: false },
    { kind: "client", fail: true },
    { kind: "heartbeat", fail: false },
    { kind: "api", fail: true },
    { kind: "client", fail: false },
  ] as const;
  for (const [i, p] of plan.entries()) {
    await tl.startRun({
      threadId: "t",
      agentId: "demo",
      runId: `r${i}`,
      multitask: "enqueue",
      trigger: p.kind === "heartbeat" ? { kind: "heartbeat", scheduleId: "hb" } : { kind: p.kind },
      input: { forwardedProps: demo(p.fail ? { fail: "boom" } : {}) },
    });
  }
  await waitFor(
    async () => (await tl.store.runs.list("t")).every((r) => r.endedAt !== undefined),
    "the five runs",
  );
  for (const id of ["a-1", "a-2", "b-1"]) {
    await tl.store.threads.ensure(id, { team: id.startsWith("a") ? "alpha" : "beta" });
  }
});
afterAll(async () => {
  await tl.close({ graceMs: 0 });
});

const runIds = (body: Record<string, unknown>) =>
  (body.runs as { runId: string }[]).map((r) => r.runId);

describe("GET /threads/:id/runs paging and filters", () => {
  it("pages with limit and offset; next is the following page's offset", async () => {
    const first = await get("/threads/t/runs?limit=2");
    expect(first.status).toBe(200);
    expect(runIds(first.body)).toEqual(["r4", "r3"]);
    expect(first.body.next).toBe(2);
    const last = await get("/threads/t/runs?limit=2&offset=4");
    expect(runIds(last.body)).toEqual(["r0"]);
    expect(last.body).not.toHaveProperty("next");
  });

  it("filters by status and by trigger, comma-separated or repeated", async () => {
    const failed = await get("/threads/t/runs?status=failed");
    expect(runIds(failed.body)).toEqual(["r3", "r1"]);
    expect((failed.body.runs as { error?: { message: string } }[])[0]?.error?.message).toContain(
      "boom",
    );
    const some = await get("/threads/t/runs?trigger=heartbeat,client&status=succeeded");
    expect(runIds(some.body)).toEqual(["r4", "r2"]);
    const repeated = await get("/threads/t/runs?trigger=heartbeat&trigger=api");
    expect(runIds(repeated.body)).toEqual(["r3", "r2", "r0"]);
  });

  it("rejects unknown filter values and bad offsets with a JSON 400", async () => {
    for (const query of ["status=broken", "trigger=cron", "offset=-1", "offset=x"]) {
      const res = await get(`/threads/t/runs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body).toMatchObject({ error: { code: "BAD_REQUEST" } });
    }
    expect((await get("/threads/t/runs?status=broken")).body).toMatchObject({
      error: { message: expect.stringContaining("queued, running, succeeded") },
    });
    expect((await get("/threads/nope/runs")).status).toBe(404);
  });
});

describe("GET /threads search and paging", () => {
  it("searches the id and metadata; pages with next", async () => {
    const alpha = await get("/threads?q=team=alpha");
    expect((alpha.body.threads as { threadId: string }[]).map((t) => t.threadId).sort()).toEqual([
      "a-1",
      "a-2",
    ]);
    const one = await get("/threads?q=beta");
    expect((one.body.threads as { threadId: string }[]).map((t) => t.threadId)).toEqual(["b-1"]);
    const page = await get("/threads?limit=2");
    expect((page.body.threads as unknown[]).length).toBe(2);
    expect(page.body.next).toBe(2);
    const rest = await get("/threads?limit=2&offset=2");
    expect((rest.body.threads as unknown[]).length).toBe(2);
    expect(rest.body).not.toHaveProperty("next");
    const long = await get(`/threads?q=${"x".repeat(201)}`);
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({ error: { code: "BAD_REQUEST" } });
  });
});
