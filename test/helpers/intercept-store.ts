import type { ThreadStore } from "../../src/core/store.js";

type Call = (...args: unknown[]) => unknown;

/**
 * A store whose methods go through `around(method, call, args)` (which decides whether and when
 * to `call` the real one), for tests that need a store to fail or answer late. `subscribe` and
 * `close` are in-process and pass through untouched.
 */
export function interceptStore(
  store: ThreadStore,
  around: (method: string, call: Call, args: unknown[]) => unknown,
): ThreadStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      // Subscriptions are synchronous (they return an unsubscribe function): not intercepted.
      if (typeof value !== "function" || String(key).startsWith("subscribe") || key === "close") {
        return value;
      }
      const call = (value as Call).bind(target);
      return (...args: unknown[]) => around(String(key), call, args);
    },
  });
}
