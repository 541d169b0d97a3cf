import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaseEvent } from "@ag-ui/core";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-cli-"));
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill9();
  rmSync(dir, { recursive: true, force: true });
});

describe("threadline serve (the npm start job)", () => {
  it("serves the demo thread, which evolves by itself through the heartbeat; --heartbeat-ms 0 removes it", async () => {
    const store = `sqlite:${join(dir, "t.db")}`;
    server = await startServerProcess(["--port", "0", "--store", store, "--heartbeat-ms", "1000"]);
    const res = await fetch(`${server.url}/threads/demo/events`);
    expect(res.status).toBe(200);
    const reader = new FrameReader(res.body!);
    const frames = await reader.until(
      // Two whole runs from the log (a run in progress at attach time arrives re-opened).
      (f) =>
        f.filter((x) => !x.event && x.data?.type === "RUN_STARTED").length >= 2 &&
        f.at(-1)?.data?.type === "RUN_FINISHED",
      20_000,
    );
    await reader.close();
    const events = frames.filter((f) => f.data).map((f) => f.data as BaseEvent);
    await verifyWithAgUi(events);
    const kinds = frames
      .filter((f) => !f.event && f.data?.type === "RUN_STARTED")
      .map((f) => f.data as BaseEvent)
      .map(
        (e) =>
          (e as { metadata?: { threadline?: { trigger?: { kind?: string } } } }).metadata
            ?.threadline?.trigger?.kind,
      );
    expect(kinds.slice(-2)).toEqual(["heartbeat", "heartbeat"]);
    expect(await server.stop()).toBe(0);

    server = await startServerProcess(["--port", "0", "--store", store, "--heartbeat-ms", "0"]);
    const schedules = (await (await fetch(`${server.url}/schedules`)).json()) as {
      schedules: unknown[];
    };
    expect(schedules.schedules).toEqual([]);
  });

  it("prints usage and rejects unknown commands with a clear message", async () => {
    await expect(startServerProcess(["--port", "not-a-port"])).rejects.toThrow(
      /--port must be an integer/,
    );
  });
});
