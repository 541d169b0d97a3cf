import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/agents.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-2p-"));
const servers: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill9()));
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  runId: string;
  status: string;
  trigger: { kind: string; fireAt?: string };
}

describe("two server processes on one SQLite file", () => {
  it("fire each heartbeat tick exactly once", async () => {
    const store = `sqlite:${join(dir, "t.db")}`;
    const args = ["--port", "0", "--store", store, "--heartbeat-ms", "1000"];
    servers.push(await startServerProcess(args), await startServerProcess(args));
    const runs = async () =>
      (
        (await (await fetch(`${servers[0]!.url}/threads/demo/runs?limit=1000`)).json()) as {
          runs: Run[];
        }
      ).runs.filter((r) => r.trigger.kind === "heartbeat");
    await waitFor(async () => (await runs()).length >= 6, "six heartbeat runs", 20_000);
    const got = await runs();
    const ticks = got.map((r) => r.trigger.fireAt);
    expect(new Set(ticks).size).toBe(ticks.length);
    // Consecutive ticks, one second apart: none skipped either.
    const times = ticks.map((t) => Date.parse(t!)).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    // Both processes see the same runs.
    const other = (
      (await (await fetch(`${servers[1]!.url}/threads/demo/runs?limit=1000`)).json()) as {
        runs: Run[];
      }
    ).runs;
    expect(other.filter((r) => r.trigger.kind === "heartbeat").length).toBeGreaterThanOrEqual(
      got.length,
    );
  });
});
