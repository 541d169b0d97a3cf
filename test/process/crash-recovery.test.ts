import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { type Frame, readFrames } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-crash-"));
const store = `sqlite:${join(dir, "t.db")}`;
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill9();
  rmSync(dir, { recursive: true, force: true });
});

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("kill -9 in the middle of a run, restart on the same SQLite file", () => {
  it("closes the run as INTERRUPTED, loses nothing a follower saw, resumes without gap or duplicate", async () => {
    server = await startServerProcess(["--port", "0", "--store", store]);
    const base = server.url;
    expect((await post(`${base}/threads`, { threadId: "c1" })).status).toBe(201);

    // A follower attached before the run.
    const before: Frame[] = [];
    const res = await fetch(`${base}/threads/c1/events`);
    const reading = (async () => {
      try {
        for await (const f of readFrames(res.body!)) before.push(f);
      } catch {
        // the server died under us: expected
      }
    })();
    const run = await post(`${base}/threads/c1/runs`, {
      agentId: "demo",
      messages: [{ id: "u1", role: "user", content: "long one" }],
      forwardedProps: { demo: { tokens: 5000, delayMs: 2 } },
    });
    expect(run.status).toBe(202);
    const { runId } = (await run.json()) as { runId: string };
    const deadline = Date.now() + 15_000;
    while (before.filter((f) => f.data?.type === "TEXT_MESSAGE_CONTENT").length < 50) {
      if (Date.now() > deadline) throw new Error("the run did not stream");
      await new Promise((r) => setTimeout(r, 10));
    }
    await server.kill9();
    await reading;
    const lastId = Number(before.filter((f) => f.id).at(-1)!.id);
    expect(lastId).toBeGreaterThan(50);

    server = await startServerProcess(["--port", String(server.port), "--store", store]);
    const runs = (await (await fetch(`${base}/threads/c1/runs`)).json()) as {
      runs: Array<{ runId: string; status: string; error?: { code: string } }>;
    };
    expect(runs.runs.find((r) => r.runId === runId)).toMatchObject({
      status: "interrupted",
      error: { code: "INTERRUPTED" },
    });

    // Resume from the cursor: exactly the events after it, then the run's closing.
    const resumed = await fetch(`${base}/threads/c1/events?follow=false`, {
      headers: { "Last-Event-ID": String(lastId) },
    });
    const after: Frame[] = [];
    for await (const f of readFrames(resumed.body!)) after.push(f);
    const afterLog = after.filter((f) => f.id && f.event !== "reopen");
    expect(afterLog.map((f) => Number(f.id))).toEqual(afterLog.map((_, i) => lastId + 1 + i));
    const terminal = afterLog.at(-1)!.data as BaseEvent & { code?: string };
    expect(terminal).toMatchObject({ type: "RUN_ERROR", code: "INTERRUPTED" });

    // Everything the follower saw before the crash is still in the log, unchanged.
    const full = await fetch(`${base}/threads/c1/events?replay=full&follow=false`);
    const log: Frame[] = [];
    for await (const f of readFrames(full.body!)) log.push(f);
    const seen = before.filter((f) => f.id && f.event !== "snapshot");
    expect(log.slice(0, seen.length).map((f) => [f.id, f.data])).toEqual(
      seen.map((f) => [f.id, f.data]),
    );

    // What the follower saw plus what it resumed is one valid AG-UI stream.
    await verifyWithAgUi([...seen, ...afterLog].map((f) => f.data as BaseEvent));

    // New runs work after the restart.
    const next = await post(`${base}/threads/c1/runs`, {
      agentId: "demo",
      forwardedProps: { demo: { tokens: 3, delayMs: 0 } },
    });
    expect(next.status).toBe(202);
    const tail = await fetch(`${base}/threads/c1/events`, {
      headers: { "Last-Event-ID": afterLog.at(-1)!.id! },
    });
    const tailFrames: Frame[] = [];
    for await (const f of readFrames(tail.body!)) {
      tailFrames.push(f);
      if (f.data?.type === "RUN_FINISHED") break;
    }
    await verifyWithAgUi(tailFrames.filter((f) => f.data).map((f) => f.data as BaseEvent));
  });
});
