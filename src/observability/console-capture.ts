import { format } from "node:util";
import type { Logger } from "../core/logger.js";

const LEVELS = {
  error: "error",
  warn: "warn",
  log: "info",
  info: "info",
  debug: "debug",
  trace: "debug",
} as const;

/**
 * Routes `console.*` into the structured log: a third-party package that prints (`@ag-ui/client`
 * logs an agent's failure with its stack through `console.error`) becomes one JSON line with
 * `source: "console"` (an Error argument as `err`, its stack included), never raw lines in the
 * JSON stream. Returns the function that puts the console back.
 */
export function captureConsole(logger: Logger, target: Console = console): () => void {
  const saved = new Map<keyof typeof LEVELS, Console[keyof typeof LEVELS]>();
  for (const [method, level] of Object.entries(LEVELS) as [keyof typeof LEVELS, keyof Logger][]) {
    saved.set(method, target[method]);
    target[method] = (...args: unknown[]) => {
      const err = args.find((a): a is Error => a instanceof Error);
      const rest = err ? args.filter((a) => a !== err) : args;
      const message = rest.length > 0 ? format(...rest) : (err?.message ?? "");
      logger[level]({ source: "console", ...(err ? { err } : {}) }, message);
    };
  }
  return () => {
    for (const [method, fn] of saved) (target as unknown as Record<string, unknown>)[method] = fn;
  };
}
