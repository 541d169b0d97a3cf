import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ThreadlineError } from "../core/errors.js";
import { configSchema, describeConfigIssues } from "./config-schema.js";
import type { ThreadlineConfig } from "./define-config.js";

export { defineConfig, type ThreadlineConfig } from "./define-config.js";

const CANDIDATES = ["threadline.config.ts", "threadline.config.mjs", "threadline.config.js"];

const configError = (message: string, cause?: unknown) =>
  new ThreadlineError("BAD_REQUEST", message, cause === undefined ? {} : { cause });

/**
 * Loads and validates the config file. Every error names the file (as given, or relative to
 * the working directory), the line when it can be found, and the key path.
 */
export async function loadConfig(path: string | undefined, cwd: string): Promise<ThreadlineConfig> {
  const file = path
    ? resolve(cwd, path)
    : CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c));
  if (!file) return {};
  const shown =
    relative(cwd, file).startsWith("..") || isAbsolute(relative(cwd, file))
      ? file
      : relative(cwd, file);
  if (!existsSync(file)) throw configError(`config file not found: ${shown}`);
  const source = readSource(file);
  const mod = await importConfig(file, shown);
  const config = mod.default ?? mod.config;
  if (!config || typeof config !== "object") {
    throw configError(
      `${shown}: must export a config object (export default { agents: { ... } }), got ${describe(config)}`,
    );
  }
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    throw configError(
      `invalid config:\n${describeConfigIssues(parsed.error, shown, source)}`,
      parsed.error,
    );
  }
  return config as ThreadlineConfig;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

function readSource(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

type ConfigModule = { default?: ThreadlineConfig; config?: ThreadlineConfig };

async function importConfig(file: string, shown: string): Promise<ConfigModule> {
  const url = pathToFileURL(file).href;
  try {
    if (/\.[cm]?ts$/.test(file)) {
      // Node 20 cannot strip types. tsx (a dependency) hooks Node's own loaders, as its CLI
      // does (ESM and CommonJS, for configs in either kind of package), so the config and the
      // server share one copy of every package. Not tsx's scoped `tsImport`: it would load a
      // second copy of each package the config imports.
      const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
      esm.register();
      cjs.register();
    }
    return (await import(url)) as ConfigModule;
  } catch (error) {
    throw configError(`${shown}${locate(error, file, url)}: ${firstLine(error)}`, error);
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // tsx/esbuild: "Transform failed with 1 error:\n/abs/file.ts:3:6: ERROR: Unexpected ','"
  const esbuild = /^[^\n]*\n.*?:\d+:\d+: (?:ERROR: )?(.*)$/m.exec(message);
  if (message.startsWith("Transform failed") && esbuild?.[1]) return `syntax error: ${esbuild[1]}`;
  const name = error instanceof Error && error.name !== "Error" ? `${error.name}: ` : "";
  return `${name}${message.split("\n")[0]}`;
}

/** `:line[:column]` of the error inside the config file, when it can be told. */
function locate(error: unknown, file: string, url: string): string {
  const text = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : "";
  for (const prefix of [url, file]) {
    const at = text.indexOf(`${prefix}:`);
    if (at >= 0) {
      const m = /^:(\d+)(?::(\d+))?/.exec(text.slice(at + prefix.length));
      if (m) return `:${m[1]}${m[2] ? `:${m[2]}` : ""}`;
    }
  }
  // Node reports an ES module's syntax error without its position; `node --check` has it.
  if (error instanceof SyntaxError) {
    const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
    const m = new RegExp(`^${escapeRegExp(file)}:(\\d+)`, "m").exec(check.stderr ?? "");
    if (m) return `:${m[1]}`;
  }
  return "";
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
