import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

const T0 = Date.parse("2030-01-01T00:00:00.500Z");
let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

async function boot(): Promise<Threadline> {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent(), other: new DemoAgent() },
    clock: new ManualClock(T0),
  });
  await tl.ready;
  return tl;
}

async function call(method: string, path: string, body?: unknown) {
  const res = await tl!.app.request(path, {
    method,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("schedules over HTTP", () => {
  it("creates, lists, reads, patches and deletes", async () => {
    await boot();
    const created = await call("POST", "/schedules", {
      id: "nightly",
      agentId: "demo",
      cron: "0 30 2 * * *",
      timezone: "America/New_York",
      input: { messages: [{ role: "user", content: "summarise the day" }] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: "nightly",
      agentId: "demo",
      threadId: "schedule:nightly",
      newThreadPerTick: false,
      multitask: "enqueue",
      catchUp: "skip",
      paused: false,
      revision: 1,
      // 02:30 in New York (UTC-5 in January) is 07:30 UTC.
      nextFireAt: "2030-01-01T07:30:00.000Z",
    });
    const generated = await call("POST", "/schedules", { agentId: "demo", everyMs: 60_000 });
    expect(generated.status).toBe(201);
    expect(generated.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.body.nextFireAt).toBe("2030-01-01T00:01:00.000Z");

    const list = await call("GET", "/schedules");
    // Same creation time on the manual clock: ordered by id.
    expect(list.body.schedules.map((s: { id: string }) => s.id)).toEqual(
      ["nightly", generated.body.id].sort(),
    );
    expect((await call("GET", "/schedules/nightly")).body).toEqual(created.body);

    const moved = await call("PATCH", "/schedules/nightly", {
      cron: null,
      timezone: null,
      everyMs: 3_600_000,
      catchUp: "once",
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      everyMs: 3_600_000,
      catchUp: "once",
      revision: 2,
      nextFireAt: "2030-01-01T01:00:00.000Z",
    });
    expect(moved.body.cron).toBeUndefined();

    expect((await call("DELETE", "/schedules/nightly")).status).toBe(204);
    expect((await call("GET", "/schedules/nightly")).status).toBe(404);
  });

  it.each([
    [
      { agentId: "demo", cron: "61 * * * *" },
      /cron: invalid cron expression '61 \* \* \* \*'.*minute/,
    ],
    [{ agentId: "demo", cron: "every day" }, /cron: invalid cron expression/],
    [{ agentId: "nobody", everyMs: 5000 }, /unknown agent 'nobody'; known agents: demo, other/],
    [{ agentId: "demo", cron: "* * * * *", everyMs: 5000 }, /either `cron` or `everyMs`, not both/],
    [{ agentId: "demo" }, /either `cron`.*or `everyMs`.*neither was given/],
    [{ agentId: "demo", everyMs: 10 }, /everyMs: must be at least 1000/],
    [{ agentId: "demo", everyMs: 1500.5 }, /everyMs: must be a whole number/],
    [
      { agentId: "demo", cron: "* * * * *", timezone: "Mars/Olympus" },
      /timezone: is not a known IANA timezone/,
    ],
    [{ agentId: "demo", everyMs: 5000, timezone: "UTC" }, /`timezone` applies only to `cron`/],
    [{ agentId: "demo", everyMs: 5000, startAt: "tomorrow" }, /startAt: must be an ISO 8601/],
    [
      {
        agentId: "demo",
        everyMs: 5000,
        startAt: "2030-02-01T00:00:00Z",
        endAt: "2030-01-01T00:00:00Z",
      },
      /`endAt` must be later than `startAt`/,
    ],
    [{ agentId: "demo", everyMs: 5000, threadId: "t", newThreadPerTick: true }, /not both/],
    [{ agentId: "demo", everyMs: 5000, multitask: "later" }, /multitask/],
    [{ agentId: "demo", everyMs: 5000, catchUp: "all" }, /catchUp/],
    [
      { agentId: "demo", everyMs: 5000, input: { messages: [{ content: "x" }] } },
      /input.messages.0.role: .*Expected 'developer' \| 'system'/,
    ],
    [{ agentId: "demo", everyMs: 5000, colour: "red" }, /colour/],
    [{ id: "has space", agentId: "demo", everyMs: 5000 }, /id: may contain only/],
    [[1, 2], /must be a JSON object/],
  ])("rejects %j with 400", async (body, message) => {
    await boot();
    const res = await call("POST", "/schedules", body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_FAILED");
    expect(res.body.error.message).toMatch(message);
    expect((await call("GET", "/schedules")).body.schedules).toEqual([]);
  });

  it("rejects malformed JSON, duplicate ids, unknown ids and invalid patches", async () => {
    await boot();
    expect((await call("POST", "/schedules", "{nope")).body.error.code).toBe("INVALID_JSON");
    const body = { id: "a", agentId: "demo", everyMs: 5000 };
    expect((await call("POST", "/schedules", body)).status).toBe(201);
    const dup = await call("POST", "/schedules", body);
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/schedule 'a' already exists/);

    for (const [method, path] of [
      ["GET", "/schedules/missing"],
      ["PATCH", "/schedules/missing"],
      ["DELETE", "/schedules/missing"],
    ] as const) {
      const res = await call(method, path, method === "PATCH" ? { paused: true } : undefined);
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({
        code: "SCHEDULE_NOT_FOUND",
        message: "unknown schedule 'missing'",
      });
    }

    const both = await call("PATCH", "/schedules/a", { cron: "* * * * *" });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/not both/);
    const agent = await call("PATCH", "/schedules/a", { agentId: "ghost" });
    expect(agent.status).toBe(400);
    const unknown = await call("PATCH", "/schedules/a", { id: "b" });
    expect(unknown.status).toBe(400);
    // Nothing half-applied.
    expect((await call("GET", "/schedules/a")).body).toMatchObject({ everyMs: 5000, revision: 1 });
    const other = await call("PATCH", "/schedules/a", { agentId: "other", paused: true });
    expect(other.body).toMatchObject({
      agentId: "other",
      paused: true,
      nextFireAt: null,
      revision: 2,
    });
  });
});
