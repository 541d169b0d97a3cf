import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ThreadlineError } from "../core/errors.js";
import type { ThreadlineOptions } from "../threadline.js";

/** What a `threadline.config.{ts,js,mjs}` module exports (default export or `config`). */
export type ThreadlineConfig = Partial<Omit<ThreadlineOptions, "store">> & {
  /** Store spec, as for --store. The command line and THREADLINE_STORE win over it. */
  store?: string;
};

/** Identity helper for typed config files. */
export function defineConfig(config: ThreadlineConfig): ThreadlineConfig {
  return config;
}

const CANDIDATES = ["threadline.config.ts", "threadline.config.mjs", "threadline.config.js"];

export async function loadConfig(path: string | undefined, cwd: string): Promise<ThreadlineConfig> {
  const file = path
    ? resolve(cwd, path)
    : CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c));
  if (!file) return {};
  if (!existsSync(file)) throw new ThreadlineError("BAD_REQUEST", `config file not found: ${file}`);
  if (file.endsWith(".ts")) {
    // TypeScript configs need a loader; tsx is what `npm start` runs under anyway.
    const { register } = await import("tsx/esm/api");
    register();
  }
  const mod = (await import(pathToFileURL(file).href)) as {
    default?: ThreadlineConfig;
    config?: ThreadlineConfig;
  };
  const config = mod.default ?? mod.config;
  if (!config || typeof config !== "object") {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `${file} must export a config object (default export)`,
    );
  }
  return config;
}
