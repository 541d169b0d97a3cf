import { createRequire } from "node:module";
import type pg from "pg";

/**
 * Counts the statements every `pg` client of this process sends (pool and LISTEN connections
 * alike), by statement text, with the time each took from send to reply: where a PostgreSQL
 * store's time goes, without pg_stat_statements (which needs a server restart to preload).
 * Patches `pg.Client.prototype.query` once; take differences of `snapshot()` around a window.
 */
export interface StatementCount {
  /** The statement, whitespace collapsed, schema dropped, cut at 90 characters. */
  text: string;
  calls: number;
  /** Send to reply, summed (sequential runs: wall time spent waiting on it). */
  ms: number;
}

const counts = new Map<string, StatementCount>();
let installed = false;

const keyOf = (q: unknown): string => {
  const text =
    typeof q === "string" ? q : ((q as { text?: string } | null)?.text ?? "(submittable)");
  // Schema-qualified names lose their (per-instance) schema: one key per statement.
  const flat = text
    .replace(/\s+/g, " ")
    .replace(/"[^"]*"\./g, "")
    .trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}...` : flat;
};

export function installPgCensus(): void {
  if (installed) return;
  installed = true;
  // The same module instance the stores load (src/stores/driver.ts requires it).
  const driver = createRequire(import.meta.url)("pg") as typeof pg;
  const proto = driver.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const key = keyOf(args[0]);
    let c = counts.get(key);
    if (!c) {
      c = { text: key, calls: 0, ms: 0 };
      counts.set(key, c);
    }
    const entry = c;
    entry.calls++;
    const t = performance.now();
    const done = () => {
      entry.ms += performance.now() - t;
    };
    // pg.Pool.query calls its client with a callback; the stores' transactions use promises.
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === "function") {
      args[last] = (...r: unknown[]) => {
        done();
        return (cb as (...x: unknown[]) => unknown)(...r);
      };
    }
    const out = original.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === "function")
      (out as Promise<unknown>).then(done, () => undefined);
    return out;
  };
}

export function pgSnapshot(): Map<string, StatementCount> {
  return new Map([...counts].map(([k, v]) => [k, { ...v }]));
}

/** What was sent between two snapshots, most calls first. */
export function pgDelta(
  before: Map<string, StatementCount>,
  after: Map<string, StatementCount>,
): StatementCount[] {
  const out: StatementCount[] = [];
  for (const [k, v] of after) {
    const b = before.get(k);
    const calls = v.calls - (b?.calls ?? 0);
    if (calls > 0) out.push({ text: k, calls, ms: v.ms - (b?.ms ?? 0) });
  }
  return out.sort((a, b) => b.ms - a.ms);
}
