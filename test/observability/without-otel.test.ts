import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * `@opentelemetry/api` is an optional peer dependency: with it not resolvable at all (a module
 * hook hides it in a child process, as if it were not installed), Threadline starts, serves a
 * run whose request carries a `traceparent`, and keeps that trace context with the run; nothing
 * is traced. (npm's flat install has the API, as prom-client's dependency; pnpm's strict one does
 * not let Threadline resolve it: the packaging test hides it in a real install too.)
 */

const run = promisify(execFile);
const HIDE = fileURLToPath(new URL("../helpers/hide-modules.mjs", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/without-otel.ts", import.meta.url));

async function fixture(hide: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--import", HIDE, FIXTURE], {
    env: { ...process.env, HIDE_MODULES: hide },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

describe("without @opentelemetry/api", () => {
  it("runs as always, traces nothing, keeps the request's trace context with the run", async () => {
    const out = await fixture("@opentelemetry/api");
    expect(out).toEqual({
      otel: "ERR_MODULE_NOT_FOUND",
      tracing: "off",
      status: 202,
      run: {
        status: "succeeded",
        trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      },
      events: "RUN_STARTED..RUN_FINISHED",
    });
  });

  it("the same process with the package resolvable loads it (the hook is what hides it)", async () => {
    const out = await fixture("");
    expect(out).toMatchObject({ otel: "installed", tracing: "on", status: 202 });
  });
});
