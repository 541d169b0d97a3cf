/**
 * TEST ONLY. A `threadline serve --config` module that gives a real server process a
 * `ManualClock` (the config file's `clock` option) and lets the test that started it move time:
 * it serves a tiny control API on a loopback port of its own and prints where
 * (`threadline-test-clock http://127.0.0.1:<port>` on stderr).
 *
 * - `GET /now` → `{ now }`;
 * - `POST /advance?ms=N` → `{ now }` once every timer due in those N ms fired, in order (ticks,
 *   lease renewals and sweeps happen as in N ms of running);
 * - the clock starts at `THREADLINE_TEST_CLOCK_START` (ms since the epoch), default now, so a
 *   restarted process carries on at the time its predecessor reached.
 *
 * Nothing in `src/` knows of it: a server only runs on this clock when a test passes this file
 * with `--config`, and it is not part of the npm package (`files` ships `src/`, not `test/`).
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { defineConfig } from "../../src/cli/define-config.js";
import { ManualClock } from "../../src/core/scheduler/manual-clock.js";

const start = Number(process.env.THREADLINE_TEST_CLOCK_START ?? Date.now());
if (!Number.isFinite(start)) throw new Error("THREADLINE_TEST_CLOCK_START must be a number (ms)");
const clock = new ManualClock(start);

const reply = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
};

// One advance at a time: a second would interleave with the timers the first is firing.
let advancing = Promise.resolve();
const control = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://control");
  if (req.method === "GET" && url.pathname === "/now") return reply(res, 200, { now: clock.now() });
  const ms = Number(url.searchParams.get("ms"));
  if (req.method !== "POST" || url.pathname !== "/advance" || !Number.isFinite(ms) || ms < 0) {
    return reply(res, 404, { error: "GET /now or POST /advance?ms=<n>" });
  }
  advancing = advancing.then(() =>
    clock.advance(ms).then(
      () => reply(res, 200, { now: clock.now() }),
      (error: unknown) => reply(res, 500, { error: String(error) }),
    ),
  );
});
control.listen(0, "127.0.0.1", () => {
  const { port } = control.address() as AddressInfo;
  process.stderr.write(`threadline-test-clock http://127.0.0.1:${port}\n`);
});
// The server's own shutdown decides when the process ends.
control.unref();

export default defineConfig({ clock });
