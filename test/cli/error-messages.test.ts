/**
 * The error-message table: each bad input a user can give the CLI, a config file or the HTTP
 * API, and the message it must produce (naming the file, line and key path; what to install or
 * check; which field). The missing-driver messages are checked for real by the packaging test
 * (`npm run test:package`), where the drivers are absent.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/cli/config.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createThreadline } from "../../src/index.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "threadline-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("config file errors name the file, the line and the key path (items counted from 1)", () => {
  const cases: [string, string, string, RegExp][] = [
    [
      "an exception while the file runs",
      "throws.mjs",
      lines("const x = undefined;", "export default {", "  agents: x.agents,", "};"),
      /^throws\.mjs:3:\d+: TypeError: Cannot read properties of undefined \(reading 'agents'\)$/,
    ],
    [
      "a misspelt top-level key, with a suggestion",
      "typo.mjs",
      lines("export default {", "  agents: {},", "  scheduls: [],", "};"),
      /^invalid config:\ntypo\.mjs:3: unknown key 'scheduls' \(did you mean 'schedules'\?\); known keys: store, agents, /,
    ],
    [
      "a bad value in the first schedule",
      "cron.mjs",
      lines(
        "export default defineConfig({",
        "  schedules: [",
        "    {",
        '      id: "nightly",',
        '      agentId: "demo",',
        '      cron: "every day",',
        "    },",
        "  ],",
        "});",
        "function defineConfig(c) { return c; }",
      ),
      /^invalid config:\ncron\.mjs:6: schedules\[#1\]\.cron: invalid cron expression 'every day'/,
    ],
    [
      "an unknown key inside the second hook",
      "hooks.mjs",
      lines(
        "export default {",
        "  hooks: [",
        '    { id: "a", secret: "s", agentId: "demo", thread: "t" },',
        '    { id: "b", secret: "s", agentId: "demo", thread: "t",',
        '      secrt: "x" },',
        "  ],",
        "};",
      ),
      /^invalid config:\nhooks\.mjs:5: unknown key 'secrt' \(did you mean 'secret'\?\) in hooks\[#2\]; known keys: id, /,
    ],
    [
      "a schedule without an id",
      "noid.mjs",
      lines("export default {", '  schedules: [{ agentId: "demo", everyMs: 5000 }],', "};"),
      /^invalid config:\nnoid\.mjs:2: schedules\[#1\]: needs an `id`/,
    ],
    [
      "a value of the wrong type",
      "type.mjs",
      lines("export default {", '  leaseMs: "15s",', "};"),
      /^invalid config:\ntype\.mjs:2: leaseMs: Invalid input: expected number, received string$/,
    ],
    [
      "an agent that is not an agent",
      "agent.mjs",
      lines("export default {", "  agents: {", '    helper: { url: "http://x" },', "  },", "};"),
      /^invalid config:\nagent\.mjs:3: agents\.helper: must be an AG-UI agent/,
    ],
    [
      "no config object exported",
      "empty.mjs",
      lines("export const nothing = 1;"),
      /^empty\.mjs: must export a config object .*, got undefined$/,
    ],
  ];

  it.each(cases)("%s", async (_what, name, text, expected) => {
    file(name, text);
    await expect(loadConfig(name, dir)).rejects.toThrow(expected);
  });

  it("a missing config file", async () => {
    await expect(loadConfig("nope.mjs", dir)).rejects.toThrow(/^config file not found: nope\.mjs$/);
  });
});

/** Runs the CLI from source (as `npm start` does) in `cwd`; resolves with exit code and output. */
function cli(args: string[], env: Record<string, string> = {}, cwd = dir) {
  const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", tsx, join(ROOT, "src/cli/main.ts"), ...args],
      {
        cwd,
        env: { ...process.env, THREADLINE_STORE: "", LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // A server that started is stopped at once: the test only needs its listening line.
      if (/"url":"http/.test(out)) child.kill("SIGTERM");
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("command line", () => {
  it("--version prints the package version", async () => {
    const { code, out } = await cli(["--version"]);
    expect(code).toBe(0);
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [
      "an unreachable Redis",
      ["serve", "--port", "0", "--store", "redis://127.0.0.1:1"],
      /^threadline: could not open the store redis:\/\/127\.0\.0\.1:1: .+; check that Redis is running and reachable/m,
    ],
    [
      "an unreachable PostgreSQL (password masked)",
      ["serve", "--port", "0", "--store", "postgres://u:secret@127.0.0.1:1/db"],
      /^threadline: could not open the store postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: .*ECONNREFUSED.*; check that PostgreSQL is running/m,
    ],
    [
      "an unknown store",
      ["serve", "--store", "mysql://x"],
      /unknown store 'mysql:\/\/x': use memory:/,
    ],
    [
      "a PostgreSQL URL whose prepared flag is neither true nor false",
      ["serve", "--port", "0", "--store", "postgres://127.0.0.1:1/db?prepared=maybe"],
      /store URL parameter 'prepared' must be true or false, not 'maybe'/,
    ],
    ["a bad port", ["serve", "--port", "99999"], /--port must be an integer 0-65535, got '99999'/],
    ["an unknown command", ["start"], /unknown command 'start'/],
  ])("%s", async (_what, args, expected) => {
    const { code, out } = await cli(args);
    expect(code).toBe(2);
    expect(out).toMatch(expected);
    expect(out).not.toContain(":secret@");
  });

  // Syntax errors through the real CLI: Node's loader (not the test runner's) reads the file.
  it.each([
    [
      "a config syntax error (ES module)",
      "syntax.mjs",
      lines("export default {", "  agents: {},", "  schedules: ["),
      /^threadline: syntax\.mjs:4: SyntaxError: Unexpected end of input$/m,
    ],
    [
      "a config syntax error (TypeScript)",
      "syntax.ts",
      lines("export default {", "  agents: {} as Record<string, never>,", "  x: (,", "};"),
      /^threadline: syntax\.ts:3:6: syntax error: Unexpected ","$/m,
    ],
  ])("%s", async (_what, name, text, expected) => {
    const { code, out } = await cli(["serve", "--port", "0", "--config", file(name, text)]);
    expect(code).toBe(2);
    expect(out).toMatch(expected);
  });

  describe("flag precedence: command line over environment over config file", () => {
    const config = () =>
      file("store.mjs", lines("export default {", '  store: "redis://127.0.0.1:1",', "};"));

    it("--store=memory: wins over the config file's store", async () => {
      const { out } = await cli(["serve", "--port", "0", "--config", config(), "--store=memory:"]);
      expect(out).toMatch(/"store":"memory:"/);
    });

    it("THREADLINE_STORE wins over the config file's store", async () => {
      const { out } = await cli(["serve", "--port", "0", "--config", config()], {
        THREADLINE_STORE: "memory:",
      });
      expect(out).toMatch(/"store":"memory:"/);
    });

    it("--store wins over THREADLINE_STORE", async () => {
      const { code, out } = await cli(["serve", "--port", "0", "--store", "redis://127.0.0.1:1"], {
        THREADLINE_STORE: "memory:",
      });
      expect(code).toBe(2);
      expect(out).toMatch(/could not open the store redis:\/\/127\.0\.0\.1:1/);
    });
  });
});

describe("AG-UI validation errors say which field", () => {
  const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  afterAll(() => tl.close());

  it.each([
    [{ role: "user", content: "hi" }, /messages\.0\.id: is required \(in an AG-UI user message\)/],
    [
      { id: "m1", role: "user" },
      /messages\.0\.content: must be a string .*\(in an AG-UI user message\)/,
    ],
    [
      { id: "m1", role: "bot", content: "hi" },
      /messages\.0\.role: Invalid discriminator value\. Expected 'developer' \| 'system'/,
    ],
    ["hi", /messages\.0: must be an object like \{ role: 'user', content: 'hi' \}/],
    [
      {
        id: "m1",
        role: "assistant",
        toolCalls: [{ id: "c", type: "function", function: { name: 1 } }],
      },
      /messages\.0\.toolCalls\.0\.function\.name: Expected string, received number/,
    ],
  ])("%j", async (message, expected) => {
    const res = await tl.fetch(
      new Request("http://t/threads/t/runs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentId: "demo", messages: [message] }),
      }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(body.error.message).toMatch(expected);
  });
});
