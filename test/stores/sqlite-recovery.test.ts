import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { newInstanceId } from "../../src/core/instance.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { newRun, readAll, waitFor } from "../conformance/store/fixtures.js";
import { verifyWithAgUi } from "../helpers/verify.js";

let tl: Threadline | undefined;
let dir: string | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("coordinator recovery on a SQLite file", () => {
  it("closes a run a crashed process left running, then runs the queue behind it", async () => {
    dir = mkdtempSync(join(tmpdir(), "threadline-recovery-"));
    const path = join(dir, "threadline.db");
    const t = "t1";

    // The "crashed" process: run A is mid-message, run B waits behind it. Its owner id has this
    // host and pid with another nonce — what a process restarted under the same pid sees.
    const crashed = createSqliteStore({ path });
    const a = { ...newRun(t), agentId: "demo" };
    const b = {
      ...newRun(t),
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 3, delayMs: 0 } } },
    };
    await crashed.runs.enqueue(a, "enqueue");
    const { fence } = (await crashed.runs.claimNext(t, {
      owner: newInstanceId(),
      leaseMs: 60_000,
      now: Date.now(),
    }))!;
    const partial = [
      { type: "RUN_STARTED", threadId: t, runId: a.runId },
      { type: "TEXT_MESSAGE_START", messageId: "m-a", role: "assistant" },
      { type: "TEXT_MESSAGE_CONTENT", messageId: "m-a", delta: "half a rep" },
    ] as BaseEvent[];
    await crashed.threads.append(t, fence, partial, {
      upsertMessages: [{ id: "m-a", role: "assistant", content: "half a rep" }],
    });
    await crashed.runs.enqueue(b, "enqueue");
    await crashed.close(); // without ending run A

    const store = createSqliteStore({ path });
    tl = createThreadline({ store, agents: { demo: new DemoAgent() } });
    await tl.ready;
    await waitFor(async () => (await store.runs.get(t, b.runId))?.status === "succeeded", "run B");

    const runA = (await store.runs.get(t, a.runId))!;
    expect(runA.status).toBe("interrupted");
    expect(runA.error?.code).toBe("INTERRUPTED");
    const log = await readAll(store, t);
    const events = log.map((r) => r.event);
    await verifyWithAgUi(events);
    const types = log.map((r) => `${r.runId === a.runId ? "A" : "B"}:${r.event.type}`);
    expect(types.slice(0, 5)).toEqual([
      "A:RUN_STARTED",
      "A:TEXT_MESSAGE_START",
      "A:TEXT_MESSAGE_CONTENT",
      "A:TEXT_MESSAGE_END",
      "A:RUN_ERROR",
    ]);
    expect((events[4] as { code?: string }).code).toBe("INTERRUPTED");
    expect(types[5]).toBe("B:RUN_STARTED");
    expect(types[types.length - 1]).toBe("B:RUN_FINISHED");
    const thread = (await store.threads.get(t))!;
    expect(thread.activeRunId).toBeNull();
    expect(thread.lastSeq).toBe(log.length);
    expect(thread.messages.map((m) => m.id)).toEqual(["m-a", `msg-${b.runId}`]);
  });
});
