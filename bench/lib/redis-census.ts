import { createRequire } from "node:module";

/**
 * Counts what every ioredis connection of this process sends: commands by name, and round trips
 * (a command sent on its own, or one pipeline / MULTI written in one go). The Redis store's
 * counterpart of pg-census.ts. Patches the driver's prototypes once; take differences of
 * `redisSnapshot()` around a window.
 */
export interface RedisCounts {
  commands: Record<string, number>;
  roundTrips: number;
}

const counts: RedisCounts = { commands: {}, roundTrips: 0 };
let installed = false;

type Proto = Record<string, (...a: unknown[]) => unknown>;

export function installRedisCensus(): void {
  if (installed) return;
  installed = true;
  // The same module instance the store loads (src/stores/driver.ts requires it).
  const driver = createRequire(import.meta.url)("ioredis") as {
    Redis: { prototype: Proto };
    Pipeline: { prototype: Proto };
  };
  const redisProto = driver.Redis.prototype;
  const send = redisProto.sendCommand!;
  redisProto.sendCommand = function (this: unknown, ...args: unknown[]) {
    const name = (args[0] as { name?: string } | undefined)?.name ?? "?";
    counts.commands[name] = (counts.commands[name] ?? 0) + 1;
    // A pipeline passes its own stream: its commands go out in the pipeline's one write.
    if (args[1] === undefined) counts.roundTrips++;
    return send.apply(this, args);
  };
  const pipeProto = driver.Pipeline.prototype;
  const exec = pipeProto.exec!;
  pipeProto.exec = function (this: unknown, ...args: unknown[]) {
    counts.roundTrips++;
    return exec.apply(this, args);
  };
}

export function redisSnapshot(): RedisCounts {
  return { commands: { ...counts.commands }, roundTrips: counts.roundTrips };
}

export function redisDelta(before: RedisCounts, after: RedisCounts): RedisCounts {
  const commands: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.commands)) {
    const d = v - (before.commands[k] ?? 0);
    if (d > 0) commands[k] = d;
  }
  return { commands, roundTrips: after.roundTrips - before.roundTrips };
}
