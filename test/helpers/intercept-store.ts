import type { ThreadStore } from "../../src/core/store.js";

type Call = (...args: unknown[]) => unknown;

/**
 * A store whose methods go through `around(method, call, args)` (which decides whether and when
 * to `call` the real one), for tests that need a store to fail or answer late. Methods are named
 * by concern: `threads.append`, `runs.claimNext`, `records.claim`. `threads.subscribe` and
 * `threads.subscribeRunStarts` are in-process and pass through untouched.
 */
export function interceptStore(
  store: ThreadStore,
  around: (method: string, call: Call, args: unknown[]) => unknown,
): ThreadStore {
  const wrap = <T extends object>(part: T, name: string): T =>
    new Proxy(part, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        // Subscriptions are in-process and synchronous (they return an unsubscribe function).
        if (typeof value !== "function" || String(key).startsWith("subscribe")) return value;
        const call = (value as Call).bind(target);
        return (...args: unknown[]) => around(`${name}.${String(key)}`, call, args);
      },
    });
  return {
    kind: store.kind,
    threads: wrap(store.threads, "threads"),
    runs: wrap(store.runs, "runs"),
    records: wrap(store.records, "records"),
    close: () => store.close(),
  };
}
