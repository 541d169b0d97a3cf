/**
 * The subscriber connection closed while its re-subscription is unanswered (a network drop,
 * then the store closes): nothing may end as an unhandled rejection. ioredis' own
 * auto-resubscribe sends SUBSCRIBE without a handler, and `disconnect()` rejects it with
 * "Connection is closed."; the store re-subscribes itself (with a handler), so it turns that off.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterAll, expect, it } from "vitest";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { dropPrefix, freshPrefix } from "../helpers/redis.js";
import { describeWithService, probeRedis, REDIS_URL } from "../helpers/services.js";

const upstream = new URL(REDIS_URL);
const prefix = freshPrefix("subclose");
afterAll(() => dropPrefix(prefix));

/** A TCP proxy to Redis that can drop every connection and swallow SUBSCRIBE commands. */
function startProxy(): Promise<{
  server: Server;
  port: number;
  dropAll(): void;
  swallowSubscribes(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let swallow = false;
  let swallowed: (() => void) | undefined;
  const server = createServer((client) => {
    const up = tcpConnect(Number(upstream.port || 6379), upstream.hostname);
    sockets.add(client).add(up);
    const end = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    up.on("data", (chunk) => client.write(chunk));
    client.on("data", (chunk) => {
      if (swallow && /subscribe/i.test(chunk.toString("latin1"))) {
        swallowed?.();
        return;
      }
      up.write(chunk);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        server,
        port: typeof address === "object" && address ? address.port : 0,
        dropAll: () => {
          for (const s of sockets) s.destroy();
        },
        swallowSubscribes: () =>
          new Promise<void>((r) => {
            swallow = true;
            swallowed = r;
          }),
      });
    });
  });
}

describeWithService(await probeRedis(), "redis subscriber closed mid-resubscribe", () => {
  it("closing the store while SUBSCRIBE is unanswered leaves no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    const proxy = await startProxy();
    try {
      const store = await createRedisStore({
        url: `redis://127.0.0.1:${proxy.port}`,
        prefix,
      });
      // The network drops; ioredis reconnects and re-subscribes, and that SUBSCRIBE never gets
      // an answer.
      const subscribing = proxy.swallowSubscribes();
      proxy.dropAll();
      await subscribing;
      await store.close();
      // Two macrotask turns: Node reports an unhandled rejection once the microtasks drained.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      expect(unhandled.map(String)).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
      await new Promise((r) => proxy.server.close(r));
    }
  });
});
