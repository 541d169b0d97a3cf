import { ThreadlineError } from "./errors.js";
import type { ThreadStore } from "./store.js";
import type { Telemetry } from "./telemetry.js";

/**
 * The store with every asynchronous call reported to `telemetry.storeCall` (duration, whether
 * the store failed, events appended): the metrics of appends, replay reads and store errors, per backend, without
 * a line of it in the backends. Subscriptions and `close` pass through untouched.
 */
export function observeStore(store: ThreadStore, telemetry: Telemetry): ThreadStore {
  const report = telemetry.storeCall;
  if (!report) return store;
  const wrap = <T extends object>(part: T, prefix: string): T =>
    new Proxy(part, {
      get(target, prop) {
        // The backend itself as `this` (a getter or method never sees the proxy).
        const value = Reflect.get(target, prop);
        if (typeof value !== "function" || typeof prop !== "string") return value;
        if (prop.startsWith("subscribe")) return value.bind(target);
        const op = `${prefix}${prop}`;
        return (...args: unknown[]) => {
          const started = performance.now();
          const result = value.apply(target, args) as unknown;
          if (!(result instanceof Promise)) return result;
          const events = op === "append" ? (args[2] as readonly unknown[]).length : undefined;
          return result.then(
            (v) => {
              report(op, (performance.now() - started) / 1000, false, events);
              return v;
            },
            (error: unknown) => {
              // A refusal by the rules (CONFLICT, THREAD_BUSY, LEASE_LOST) is no store fault.
              const refused = ThreadlineError.is(error) && error.status < 500;
              report(op, (performance.now() - started) / 1000, !refused);
              throw error;
            },
          );
        };
      },
    });
  const parts = {
    threads: wrap(store.threads, ""),
    runs: wrap(store.runs, "runs."),
    records: wrap(store.records, "records."),
  };
  // Anything else a backend has (its own extras) stays reachable as it is.
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "threads" || prop === "runs" || prop === "records") return parts[prop];
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
