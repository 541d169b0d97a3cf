import { ThreadlineError } from "../core/errors.js";
import type { ThreadStore } from "../core/store.js";

export const DEFAULT_STORE = "sqlite:./.threadline/threadline.db";

/**
 * Opens a store from its spec: `memory:`, `sqlite:<path>`, `postgres://...`, `redis://...`.
 * Each backend is imported only when asked for, so optional drivers stay optional.
 */
export async function openStore(spec: string): Promise<ThreadStore> {
  if (spec === "memory:" || spec === "memory") {
    const { createMemoryStore } = await import("../stores/memory/index.js");
    return createMemoryStore();
  }
  if (spec.startsWith("sqlite:")) {
    const { createSqliteStore } = await import("../stores/sqlite/index.js");
    return createSqliteStore({ path: spec.slice("sqlite:".length) || DEFAULT_STORE.slice(7) });
  }
  throw new ThreadlineError(
    "BAD_REQUEST",
    `unknown store '${spec}': use memory:, sqlite:<path>, postgres://... or redis://...`,
  );
}
