/**
 * The replay ceiling server (see bench/ceilings/replay.ts), in its own process: `open` points it
 * at a store the Threadline server opened (its file, schema or key prefix), then
 * `GET /replay/:threadId` streams that thread's stored rows as SSE frames.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { openReplaySource, type ReplaySource, streamReplay } from "../ceilings/replay.js";
import { serveRpc } from "../lib/children.js";
import { pgUrl, redisUrl, type StoreLocation } from "../lib/stores.js";

let source: ReplaySource | undefined;

const server = createServer((req, res) => {
  const m = /^\/replay\/([^/?]+)/.exec(req.url ?? "");
  if (!m || !source) {
    res.writeHead(404).end();
    return;
  }
  streamReplay(source, decodeURIComponent(m[1]!), res).catch(() => res.destroy());
});
const listening = new Promise<string>((resolve) =>
  server.listen(0, "127.0.0.1", () =>
    resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
  ),
);

serveRpc({
  async open(a: { location: StoreLocation }) {
    await source?.close();
    source = await openReplaySource(a.location, { postgres: pgUrl(), redis: redisUrl() });
    return { url: await listening };
  },
});
