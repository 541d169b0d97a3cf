import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-stop-"));
// Every server a test starts: the first test starts two (the restart after SIGTERM), and one
// variable for all of them left the restarted one running after the file (a leaked process).
const started: ServerProcess[] = [];
async function start(args: string[]): Promise<ServerProcess> {
  const s = await startServerProcess(args);
  started.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(started.map((s) => s.kill9()));
  rmSync(dir, { recursive: true, force: true });
});

describe("graceful shutdown", () => {
  it("SIGTERM closes a run in progress as INTERRUPTED before followers are cut, and exits 0", async () => {
    const store = `sqlite:${join(dir, "t.db")}`;
    let server = await start(["--port", "0", "--store", store, "--grace-ms", "100"]);
    const base = server.url;
    const res = await fetch(`${base}/threads/demo/events`);
    const reader = new FrameReader(res.body!);
    const started = await fetch(`${base}/threads/demo/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        agentId: "demo",
        forwardedProps: { demo: { tokens: 10_000, delayMs: 5 } },
      }),
    });
    const { runId } = (await started.json()) as { runId: string };
    await reader.until((f) => f.some((x) => x.data?.type === "TEXT_MESSAGE_CONTENT"));
    const exit = server.stop();
    await reader.until(() => false, 15_000);
    expect(await exit).toBe(0);
    const events = reader.frames.filter((f) => f.data).map((f) => f.data as BaseEvent);
    expect(events.at(-1)).toMatchObject({ type: "RUN_ERROR", code: "INTERRUPTED" });
    await verifyWithAgUi(events);
    server = await start(["--port", "0", "--store", store]);
    const runs = (await (await fetch(`${server.url}/threads/demo/runs`)).json()) as {
      runs: Array<{ runId: string; status: string }>;
    };
    // By id: on a slow machine the demo heartbeat may have started a newer run meanwhile.
    expect(runs.runs.find((r) => r.runId === runId)?.status).toBe("interrupted");
  });
});

describe("shutdown never waits on the logger", () => {
  it("SIGTERM exits 0 promptly when stdout is a pipe whose reader went away (serve | head)", async () => {
    const server = await start(["--port", "0", "--store", "memory:", "--heartbeat-ms", "0"]);
    // The reader exits, as `head` does after its lines; the next log line meets a broken pipe.
    server.child.stdout!.destroy();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const started = Date.now();
    const code = await server.stop();
    expect(code).toBe(0);
    // Well under the 10 s the CLI waits before it forces an exit.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
