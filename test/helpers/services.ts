import { createConnection } from "node:net";
import { describe, it } from "vitest";

/** Where the service-backed suites find PostgreSQL and Redis (override with env). */
export const PG_URL = process.env.THREADLINE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.THREADLINE_TEST_REDIS ?? "redis://127.0.0.1:6379";

export interface Probe {
  name: string;
  up: boolean;
  reason: string;
}

/** Opens a TCP connection to the service's port with a short timeout. */
async function reachable(url: string, defaultPort: number, timeoutMs: number): Promise<string> {
  const u = new URL(url);
  const host = u.hostname || "127.0.0.1";
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (reason: string) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer from ${host}:${port} in ${timeoutMs} ms`));
    socket.once("connect", () => done(""));
    socket.once("error", (e) => done(`${host}:${port}: ${e.message}`));
  });
}

export async function probePostgres(timeoutMs = 1000): Promise<Probe> {
  const reason = await reachable(PG_URL, 5432, timeoutMs);
  return { name: "PostgreSQL", up: reason === "", reason };
}

export async function probeRedis(timeoutMs = 1000): Promise<Probe> {
  const reason = await reachable(REDIS_URL, 6379, timeoutMs);
  return { name: "Redis", up: reason === "", reason };
}

/**
 * Registers a suite that needs a service. When the service is down it FAILS if
 * `THREADLINE_REQUIRE_SERVICES=1` (CI), and is otherwise skipped with a message saying why.
 */
export function describeWithService(probe: Probe, title: string, body: () => void): void {
  if (probe.up) {
    describe(title, body);
    return;
  }
  if (process.env.THREADLINE_REQUIRE_SERVICES === "1") {
    describe(title, () => {
      it(`${probe.name} is reachable (THREADLINE_REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${probe.name} is required but unreachable: ${probe.reason}`);
      });
    });
    return;
  }
  console.warn(
    `[threadline] skipping "${title}": ${probe.name} is unreachable (${probe.reason}). ` +
      "Start it, or set THREADLINE_REQUIRE_SERVICES=1 to make this a failure.",
  );
  describe.skipIf(true)(title, body);
}
