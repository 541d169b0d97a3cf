/**
 * The packaging test (`npm run test:package`, run by .ci/run): packs the tarball, installs it
 * into a scratch consumer project from the npm registry with a fresh npm cache (so only
 * Threadline's runtime dependencies come down: no CopilotKit tree, no driver), and checks that:
 * - ESM and CommonJS load and run every subpath; a missing driver is a clear DRIVER_MISSING
 *   error that says what to install;
 * - TypeScript `nodenext`, strict, `skipLibCheck: false` type-checks ESM and CommonJS files;
 * - a bundler (esbuild) bundles the server for Node (and the bundle runs) and the client for
 *   a browser;
 * - the CLI prints its version, names the missing SQLite driver in an empty folder (also
 *   through `npx`), and serves with a TypeScript config file once better-sqlite3 is there.
 * The drivers, @types/pg and @copilotkit/runtime are linked from this repository's
 * node_modules rather than installed, to keep the test within a couple of minutes.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_ENTRY,
  CJS_SCRIPT,
  CONFIG_TS,
  ESM_SCRIPT,
  TYPES_CORE_CTS,
  TYPES_CORE_MTS,
  TYPES_DRIVERS_MTS,
  tsconfig,
} from "./consumer-files.js";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const REPO_MODULES = realpathSync(join(ROOT, "node_modules"));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
};

const scratch = mkdtempSync(join(tmpdir(), "threadline-pkg-"));
const consumer = join(scratch, "consumer");
const cache = join(scratch, "npm-cache");
let tarball = "";

/** The environment of a fresh shell: nothing inherited from an enclosing `npm run`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== "NODE_OPTIONS" && !k.startsWith("VITEST")) env[k] = v;
  }
  return { ...env, npm_config_cache: cache, npm_config_update_notifier: "false", ...extra };
}

async function sh(cmd: string, args: string[], cwd: string, timeout = 240_000) {
  try {
    return await run(cmd, args, { cwd, env: cleanEnv(), timeout, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`,
    );
  }
}

/** Runs and returns exit code and output, never throwing on a non-zero exit. */
async function attempt(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function link(name: string): void {
  const target = join(consumer, "node_modules", name);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(realpathSync(join(REPO_MODULES, name)), target, "dir");
}

const bin = () => join(consumer, "node_modules", ".bin", "threadline");
const tsc = join(REPO_MODULES, "typescript", "bin", "tsc");
const esbuild = join(REPO_MODULES, "esbuild", "bin", "esbuild");

beforeAll(async () => {
  const packed = await sh(
    "npm",
    ["pack", "--silent", "--pack-destination", scratch],
    ROOT,
    400_000,
  );
  tarball = join(scratch, packed.stdout.trim().split("\n").at(-1) as string);
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2),
  );
  await sh(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, "@types/node@^20.19.0"],
    consumer,
    400_000,
  );
  writeFileSync(join(consumer, "esm.mjs"), ESM_SCRIPT);
  writeFileSync(join(consumer, "cjs.cjs"), CJS_SCRIPT);
  writeFileSync(join(consumer, "core.mts"), TYPES_CORE_MTS);
  writeFileSync(join(consumer, "core.cts"), TYPES_CORE_CTS);
  writeFileSync(join(consumer, "drivers.mts"), TYPES_DRIVERS_MTS);
  writeFileSync(join(consumer, "tsconfig.core.json"), tsconfig(["core.mts", "core.cts"]));
  writeFileSync(join(consumer, "tsconfig.json"), tsconfig(["core.mts", "core.cts", "drivers.mts"]));
  writeFileSync(join(consumer, "browser.mjs"), BROWSER_ENTRY);
}, 900_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("the packed tarball in a consumer project", () => {
  it("ships LICENSE, README, the built dist and declarations, no tests", async () => {
    const { stdout } = await sh("tar", ["tzf", tarball], scratch);
    const files = stdout.split("\n");
    for (const f of [
      "LICENSE",
      "README.md",
      "package.json",
      "bin/threadline.js",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/inspector-assets/app.js",
    ]) {
      expect(files).toContain(`package/${f}`);
    }
    expect(files.filter((f) => /\.test\.|^package\/test\//.test(f))).toEqual([]);
    const installed = JSON.parse(
      readFileSync(join(consumer, "node_modules", "threadline", "package.json"), "utf8"),
    ) as { repository?: unknown; license?: string; engines?: { node?: string } };
    expect(installed.repository).toBeTruthy();
    expect(installed.license).toBe("MIT");
    expect(installed.engines?.node).toBe(">=20.19");
  });

  it("installs only the runtime dependencies: no driver, no CopilotKit, no native build", async () => {
    const { stdout } = await sh("npm", ["ls", "--all", "--parseable"], consumer);
    const names = stdout.split("\n").map((p) => p.slice(p.lastIndexOf("node_modules/") + 13));
    for (const absent of [
      "better-sqlite3",
      "pg",
      "ioredis",
      "@copilotkit/runtime",
      "typescript",
      "vitest",
    ]) {
      expect(names).not.toContain(absent);
    }
    for (const dep of Object.keys(pkg.dependencies)) expect(names).toContain(dep);
    // No OpenTelemetry SDK; the API comes with prom-client (a dependency of its own), so npm's
    // flat install always has it (see the next test for a tree without it).
    expect(names.filter((n) => n.startsWith("@opentelemetry/"))).toEqual(["@opentelemetry/api"]);
  });

  it("ESM and CommonJS load every subpath; a missing driver says what to install", async () => {
    const expected = {
      healthz: 200,
      run: 202,
      events: "RUN_STARTED..RUN_FINISHED",
      // The API (prom-client's) without an SDK: no-op spans, a traced request runs as any other.
      otel: "installed",
      tracing: "on",
      client: "function,function",
      sqlite:
        "DRIVER_MISSING: install better-sqlite3 to use the sqlite store: npm install better-sqlite3",
      postgres: "DRIVER_MISSING: install pg to use the postgres store: npm install pg",
      redis: "DRIVER_MISSING: install ioredis to use the redis store: npm install ioredis",
    };
    for (const script of ["esm.mjs", "cjs.cjs"]) {
      const { stdout } = await sh("node", [script, scratch], consumer);
      const out = JSON.parse(stdout.trim().split("\n").at(-1) as string) as Record<string, unknown>;
      expect(out).toMatchObject(expected);
      expect(String(out.copilotkit)).toMatch(/@copilotkit\/runtime/);
    }
    // A tree where the API cannot be resolved from Threadline (pnpm's strict layout, or an
    // install without it): hidden by a module hook, everything works the same, untraced.
    const hidden = await attempt(
      "node",
      ["--import", join(ROOT, "test/helpers/hide-modules.mjs"), "esm.mjs", scratch],
      consumer,
      { HIDE_MODULES: "@opentelemetry/api" },
    );
    expect(hidden.code, hidden.stderr).toBe(0);
    const out = JSON.parse(hidden.stdout.trim().split("\n").at(-1) as string) as object;
    expect(out).toMatchObject({ ...expected, otel: "not installed", tracing: "off" });
  });

  it("type-checks ESM and CommonJS files under nodenext, strict, skipLibCheck: false", async () => {
    await sh("node", [tsc, "-p", "tsconfig.core.json"], consumer);
  });

  it("the CLI prints its version and, in an empty folder, names the SQLite driver to install (also through npx)", async () => {
    const version = await attempt(bin(), ["--version"], consumer);
    expect(version.stdout.trim()).toBe(pkg.version);
    const empty = join(scratch, "empty");
    mkdirSync(empty);
    const serve = await attempt(bin(), ["serve", "--port", "0"], empty);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("install better-sqlite3 to use the sqlite store");
    expect(serve.stderr).toContain("npx -p threadline -p better-sqlite3 threadline serve");
    const npx = await attempt(
      "npx",
      ["--yes", "--package", tarball, "threadline", "--version"],
      empty,
    );
    expect(npx.stdout.trim()).toBe(pkg.version);
  });

  describe("with the drivers installed", () => {
    beforeAll(() => {
      for (const name of ["better-sqlite3", "pg", "ioredis", "@types/pg", "@copilotkit/runtime"])
        link(name);
    });

    it("every store subpath loads its driver, in ESM and CommonJS", async () => {
      for (const script of ["esm.mjs", "cjs.cjs"]) {
        const { stdout } = await sh("node", [script, scratch], consumer);
        const out = JSON.parse(stdout.trim().split("\n").at(-1) as string) as Record<
          string,
          unknown
        >;
        expect(out).toMatchObject({
          sqlite: "ok",
          postgres: "driver loaded",
          redis: "driver loaded",
          copilotkit: "function",
        });
      }
    });

    it("type-checks the driver subpaths too", async () => {
      await sh("node", [tsc, "-p", "tsconfig.json"], consumer);
    });

    it("esbuild bundles the server for Node (the bundle runs) and the client for a browser", async () => {
      await sh(
        esbuild,
        [
          "esm.mjs",
          "--bundle",
          "--platform=node",
          "--format=esm",
          "--outfile=out/server.mjs",
          "--log-level=error",
          // CommonJS dependencies inside an ESM bundle need a require (esbuild's documented way).
          "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        ],
        consumer,
      );
      const { stdout } = await sh("node", ["out/server.mjs", scratch], consumer);
      expect(JSON.parse(stdout.trim().split("\n").at(-1) as string)).toMatchObject({
        healthz: 200,
        events: "RUN_STARTED..RUN_FINISHED",
        sqlite: "ok",
      });
      await sh(
        esbuild,
        [
          "browser.mjs",
          "--bundle",
          "--platform=browser",
          "--format=esm",
          "--outfile=out/browser.js",
          "--log-level=error",
        ],
        consumer,
      );
      const browser = readFileSync(join(consumer, "out", "browser.js"), "utf8");
      expect(browser).not.toMatch(/from\s*["']node:/);
    });

    it("`threadline serve` runs a TypeScript config on the default SQLite store", async () => {
      const app = join(scratch, "app");
      mkdirSync(app);
      symlinkSync(join(consumer, "node_modules"), join(app, "node_modules"), "dir");
      writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module" }));
      writeFileSync(join(app, "threadline.config.ts"), CONFIG_TS);
      const child = spawn(bin(), ["serve", "--port", "0", "--no-demo"], {
        cwd: app,
        env: cleanEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const url = await listeningUrl(child);
        const info = (await (await fetch(`${url}/info`)).json()) as {
          agents?: Record<string, unknown>;
        };
        expect(Object.keys(info.agents ?? {})).toEqual(["echo"]);
        child.kill("SIGTERM");
        expect(await exitCode(child)).toBe(0);
        expect(readFileSync(join(app, ".threadline", "threadline.db")).length).toBeGreaterThan(0);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
});

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => fail(new Error(`no listening line in time:\n${out}\n${err}`)),
      60_000,
    );
    child.stderr?.on("data", (d) => (err += d));
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1] as string);
      }
    });
    child.on("exit", (code) => fail(new Error(`exited with ${code}:\n${out}\n${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null) done(child.exitCode);
    else child.on("exit", (code) => done(code));
  });
}
