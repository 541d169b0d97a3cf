import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { waitFor } from "../helpers/wait-for.js";

const demoAgent = fileURLToPath(new URL("../../src/demo/demo-agent.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "threadline-guard-"));
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill9();
  rmSync(dir, { recursive: true, force: true });
});

describe("user code that leaves a promise rejection unhandled", () => {
  it("is logged as one JSON line and the server keeps serving", async () => {
    const config = join(dir, "leaky.mjs");
    // The factory (called once per run) forgets a rejected promise, as an agent's careless
    // background call would.
    writeFileSync(
      config,
      [
        `import { DemoAgent } from ${JSON.stringify(demoAgent)};`,
        "export default {",
        "  agents: {",
        "    leaky: () => {",
        '      Promise.reject(new Error("leaked by the agent factory"));',
        "      return new DemoAgent();",
        "    },",
        "  },",
        "};",
      ].join("\n"),
    );
    server = await startServerProcess([
      "--port",
      "0",
      "--no-demo",
      "--heartbeat-ms",
      "0",
      "--store",
      `sqlite:${join(dir, "t.db")}`,
      "--config",
      config,
    ]);
    const started = await fetch(`${server.url}/threads/t1/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        agentId: "leaky",
        messages: [{ id: "u1", role: "user", content: "hi" }],
      }),
    });
    expect(started.status).toBe(202);
    await waitFor(
      () => server!.output().includes("leaked by the agent factory"),
      "the log line",
      15_000,
    );
    const line = server
      .output()
      .split("\n")
      .find((l) => l.includes("leaked by the agent factory"));
    expect(JSON.parse(line!)).toMatchObject({
      level: 50,
      msg: "unhandled promise rejection (kept serving)",
    });
    // Still alive: the run it started finishes and the API answers.
    await waitFor(
      async () => {
        const res = await fetch(`${server!.url}/threads/t1/runs`);
        const body = (await res.json()) as { runs: { status: string }[] };
        return body.runs[0]?.status === "succeeded";
      },
      "the run to succeed",
      15_000,
    );
    expect(server.child.exitCode).toBeNull();
  });
});
