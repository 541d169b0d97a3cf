import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { newInstanceId } from "../../src/core/instance.js";
import type { ThreadStore } from "../../src/core/store.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { newRun, readAll, waitFor } from "../conformance/store/fixtures.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Two handles on one store: the process that dies, and the one that comes after it. */
const stores: [string, () => { dead: ThreadStore; next: () => ThreadStore }][] = [
  [
    "memory",
    () => {
      const data = createMemoryData();
      return { dead: createMemoryStore({ data }), next: () => createMemoryStore({ data }) };
    },
  ],
  [
    "sqlite",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "threadline-prestart-"));
      dirs.push(dir);
      const path = join(dir, "t.db");
      return { dead: createSqliteStore({ path }), next: () => createSqliteStore({ path }) };
    },
  ],
];

describe.each(
  stores,
)("a run whose process died before its RUN_STARTED committed (%s)", (_, make) => {
  it("reaches the log with its prompt, then ends INTERRUPTED; its queue moves on", async () => {
    const { dead, next } = make();
    const t = "prestart";
    // The dead process claimed the run (it is `running`, under a lease) and died before its
    // first append: nothing of it is in the log. Its owner id names this host and pid with
    // another nonce, which is what a restarted process sees.
    const prompt = { id: "u1", role: "user" as const, content: "do not lose me" };
    const lost = { ...newRun(t), agentId: "demo", input: { messages: [prompt] } };
    const queued = {
      ...newRun(t),
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 2, delayMs: 0 } } },
    };
    await dead.runs.enqueue(lost, "enqueue");
    await dead.runs.enqueue(queued, "enqueue");
    expect(
      await dead.runs.claimNext(t, { owner: newInstanceId(), leaseMs: 60_000, now: Date.now() }),
    ).not.toBeNull();
    expect(await readAll(dead, t)).toEqual([]);

    const store = next();
    tl = createThreadline({ store, agents: { demo: new DemoAgent() } });
    await tl.ready;
    await waitFor(async () => (await store.runs.get(t, queued.runId))?.status === "succeeded", "B");

    expect(await store.runs.get(t, lost.runId)).toMatchObject({
      status: "interrupted",
      error: { code: "INTERRUPTED" },
    });
    const log = await readAll(store, t);
    const events = log.map((r) => r.event);
    await verifyWithAgUi(events);
    expect(log.slice(0, 2).map((r) => [r.runId, r.event.type])).toEqual([
      [lost.runId, "RUN_STARTED"],
      [lost.runId, "RUN_ERROR"],
    ]);
    expect(events[0]).toMatchObject({
      input: { messages: [prompt] },
      metadata: { threadline: { trigger: { kind: "api" }, agentId: "demo" } },
    });
    expect((events[1] as BaseEvent & { code: string }).code).toBe("INTERRUPTED");
    // The prompt is part of the thread, so the next run (and every follower) sees it.
    const thread = (await store.threads.get(t))!;
    expect(thread.messages[0]).toMatchObject(prompt);
    expect(thread.activeRunId).toBeNull();
  });
});
