import { createRequire } from "node:module";
import { ThreadlineError } from "../core/errors.js";

const require = createRequire(import.meta.url);

/** The drivers Threadline's stores use: optional peer dependencies, each needed by one store. */
export const DRIVERS = {
  "better-sqlite3": "the sqlite store",
  pg: "the postgres store",
  ioredis: "the redis store",
} as const;
export type DriverName = keyof typeof DRIVERS;

const cache = new Map<string, unknown>();

/**
 * Loads a store's driver when the store is opened (never when the package or another subpath is
 * imported), so a deployment installs only the driver it uses and a missing one is a clear
 * `DRIVER_MISSING` error that says what to install rather than a raw module-not-found. The three
 * drivers are CommonJS packages, so `require` loads them synchronously (the sqlite store opens
 * synchronously), and bundlers leave the call alone.
 */
export function loadDriver<T>(name: DriverName): T {
  const hit = cache.get(name);
  if (hit !== undefined) return hit as T;
  let mod: unknown;
  try {
    mod = require(name);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : "";
    // Only the driver itself missing, not a module the driver failed to load (a native build for
    // another Node version says so in its own message, which we keep).
    if (code === "MODULE_NOT_FOUND" && message.includes(`'${name}'`)) {
      throw new ThreadlineError(
        "DRIVER_MISSING",
        `install ${name} to use ${DRIVERS[name]}: npm install ${name}`,
        { cause: error },
      );
    }
    throw new ThreadlineError(
      "DRIVER_MISSING",
      `${name} is installed but failed to load (${message.split("\n")[0]}); ${DRIVERS[name]} needs it. ` +
        `Reinstall it for this Node.js version (${process.version}): npm rebuild ${name}`,
      { cause: error },
    );
  }
  cache.set(name, mod);
  return mod as T;
}
