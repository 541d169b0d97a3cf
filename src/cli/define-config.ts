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
