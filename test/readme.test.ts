import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../src/demo/demo-agent.js";
import { createMemoryStore } from "../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../src/threadline.js";

/**
 * The README's TypeScript samples run as written and end: each is taken from the README, its
 * `threadline` imports pointed at this checkout's sources, and run by Node (with tsx) in a
 * scratch folder. The only other edits are the server address and port of the samples that need
 * one, and, for the runner snippet (a fragment of a server), closing what it opened.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const run = promisify(execFile);
/** tsx's loader by path: `--import tsx` would resolve it from the scratch folder. */
const TSX = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** The ```ts block of the README that contains `marker` (exactly one must). */
function sample(marker: string): string {
  const blocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const found = blocks.filter((b) => b.includes(marker));
  expect(found, `README blocks containing ${marker}`).toHaveLength(1);
  return found[0]!;
}

const SUBPATHS: Record<string, string> = {
  threadline: "src/index.ts",
  "threadline/client": "src/client/index.ts",
  "threadline/copilotkit": "src/copilotkit/index.ts",
};

function localImports(code: string): string {
  return code.replace(/from "(threadline(?:\/[a-z/]+)?)"/g, (_, spec: string) => {
    const path = SUBPATHS[spec] ?? `src/${spec.slice("threadline/".length)}/index.ts`;
    return `from ${JSON.stringify(join(ROOT, path))}`;
  });
}

let scratch: string;
let scripts: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "threadline-readme-"));
  // Inside the checkout so that the samples' other imports resolve from its node_modules.
  scripts = join(ROOT, "node_modules", ".cache", "readme-samples");
  mkdirSync(scripts, { recursive: true });
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

async function runSample(name: string, code: string): Promise<string> {
  const file = join(scripts, `${name}-${process.pid}.mts`);
  writeFileSync(file, localImports(code));
  try {
    const { stdout } = await run(process.execPath, ["--import", TSX, file], {
      cwd: scratch,
      timeout: 60_000,
      env: { ...process.env, COPILOTKIT_TELEMETRY_DISABLED: "true" },
    });
    return stdout;
  } finally {
    rmSync(file, { force: true });
  }
}

describe("README samples", () => {
  it("library use: serves, runs, follows the run to its end and exits", async () => {
    const code = sample('createSqliteStore({ path: "./threads.db" }),').replace(
      "port: 8787",
      "port: 0",
    );
    const out = await runSample("library", code);
    const lines = out.trim().split("\n");
    expect(lines[0]).toMatch(/^1 RUN_STARTED$/);
    expect(lines.at(-1)).toMatch(/^\d+ RUN_FINISHED$/);
  }, 90_000);

  describe("against a running server", () => {
    let tl: Threadline;
    let server: Awaited<ReturnType<Threadline["listen"]>>;
    beforeAll(async () => {
      tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
      server = await tl.listen({ port: 0 });
      await tl.startRun({
        threadId: "demo",
        agentId: "demo",
        input: { messages: [{ id: "m1", role: "user", content: "hi" }] },
      });
      await tl.coordinator.idle("demo");
    });
    afterAll(async () => {
      await server.close();
      await tl.close({ graceMs: 50 });
    });

    it("clients: followThread ends on abort, ThreadlineAgent connects and is disposed", async () => {
      const code = sample("followThread(").replaceAll("http://127.0.0.1:8787", server.url);
      const out = await runSample("client", code);
      expect(out).toContain("RUN_STARTED");
      expect(out).toContain("RUN_FINISHED");
      expect(out.trim().split("\n").at(-1)).toBe("2 messages");
    }, 90_000);
  });

  it("the runner snippet builds a CopilotRuntime with ThreadlineAgentRunner", async () => {
    const code = `${sample("const myAgent = new HttpAgent(")}
console.log(runtime instanceof CopilotRuntime, typeof runner.run);
await runner.close();
await store.close();
`;
    expect((await runSample("runner", code)).trim()).toBe("true function");
  }, 90_000);
});
