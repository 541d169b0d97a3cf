/**
 * The Redis ceiling of scenario 1: ioredis alone, the same keys, commands and scripts
 * Threadline's Redis store runs for one run — mirrors src/stores/redis/lua-runs.ts (PRELUDE,
 * ENQUEUE, CLAIM_NEXT, GET_THREAD), lua-append.ts (APPEND), epoch.ts (every script checks the
 * epoch key; reads run in a MULTI with a GET of it), keys.ts (the key layout) and threads.ts /
 * runs.ts (head, run reads), with a subscriber on the appends channel as the store keeps one.
 * The scripts are trimmed to the branches a fresh thread and an `enqueue` run take; when those
 * files change, change this one. Like Threadline's group commit for a synchronous run, it
 * appends a run's events in one script call (the bench reports Threadline's appends per run).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { type AppendCeiling, LEASE_MS, OWNER } from "./payload.js";

const PRELUDE = `
if redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return redis.error_reply('DATA_LOST') end
local K_THREAD, K_LOG, K_MSGS, K_MORDER, K_RUNS, K_RORDER, K_QUEUE, K_THREADS, K_LEASES, K_QUEUED,
  K_FENCE, K_MSEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
  KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local tid = ARGV[1]
local function f(rid, name) return rid .. '|' .. name end
local function syncQueued()
  if redis.call('LLEN', K_QUEUE) > 0 then redis.call('SADD', K_QUEUED, tid)
  else redis.call('SREM', K_QUEUED, tid) end
end
local RUN_FIELDS = {'in', 'st', 'sa', 'ea', 'ss', 'er', 'lo', 'lt', 'le', 'cr', 'cb'}
local function runFields(rid)
  local names = {}
  for i, n in ipairs(RUN_FIELDS) do names[i] = f(rid, n) end
  return redis.call('HMGET', K_RUNS, unpack(names))
end
`;

/** ARGV: tid, rid, now, run JSON, call id. */
const ENQUEUE = `${PRELUDE}
local rid, now = ARGV[2], ARGV[3]
if redis.call('EXISTS', K_THREAD) == 0 then
  redis.call('HSET', K_THREAD, 'ca', now, 'ua', now, 'seq', 0, 'tok', 0, 'meta', '{}',
    'state', '{}', 'np', 0, 'rc', 0)
  redis.call('ZADD', K_THREADS, -tonumber(now), tid)
end
if redis.call('HEXISTS', K_RUNS, f(rid, 'st')) == 1 then return {'CONFLICT'} end
redis.call('HGET', K_THREAD, 'act')
redis.call('LLEN', K_QUEUE)
redis.call('HSET', K_RUNS, f(rid, 'in'), ARGV[4], f(rid, 'st'), 'queued', f(rid, 'nq'), ARGV[5])
redis.call('ZADD', K_RORDER, redis.call('HINCRBY', K_THREAD, 'rc', 1), rid)
redis.call('RPUSH', K_QUEUE, rid)
redis.call('SADD', K_QUEUED, tid)
return {'OK', ''}
`;

/** ARGV: tid, owner, now, lease expiry, call id. */
const CLAIM_NEXT = `${PRELUDE}
if redis.call('EXISTS', K_THREAD) == 0 then return false end
if redis.call('HGET', K_THREAD, 'act') then return false end
local rid = redis.call('LPOP', K_QUEUE)
if not rid then return false end
syncQueued()
local tok = math.max(tonumber(redis.call('GET', K_FENCE) or '0'),
  tonumber(redis.call('HGET', K_THREAD, 'tok'))) + 1
redis.call('HSET', K_THREAD, 'tok', tok)
redis.call('HSET', K_RUNS, f(rid, 'st'), 'running', f(rid, 'sa'), ARGV[3], f(rid, 'lo'), ARGV[2],
  f(rid, 'lt'), tok, f(rid, 'le'), ARGV[4], f(rid, 'cq'), ARGV[5])
redis.call('HSET', K_THREAD, 'act', rid)
redis.call('ZADD', K_LEASES, ARGV[4], cjson.encode({tid, rid}))
return {rid, tok, runFields(rid)}
`;

/** ARGV: tid. */
const GET_THREAD = `${PRELUDE}
local head = redis.call('HGETALL', K_THREAD)
if #head == 0 then return false end
local ids = redis.call('ZRANGE', K_MORDER, 0, -1)
local msgs = {}
if #ids > 0 then msgs = redis.call('HMGET', K_MSGS, unpack(ids)) end
return {head, msgs}
`;

/**
 * ARGV: tid, rid, token, now, channel, event count, append id, message count; the event JSONs;
 * (id, JSON) pairs of the upserted messages. The run's first event is RUN_STARTED and its last
 * RUN_FINISHED (lua-append.ts with `started` 1 and a terminal `succeeded`).
 */
const APPEND = `${PRELUDE}
local rid, token, now = ARGV[2], ARGV[3], ARGV[4]
local last = redis.call('HGET', K_THREAD, 'an')
if last then
  local id, done = string.match(last, '^(%S+) (%d+)$')
  if id == ARGV[7] then return tonumber(done) end
end
if redis.call('HGET', K_THREAD, 'act') ~= rid or redis.call('HGET', K_THREAD, 'tok') ~= token
  or redis.call('HGET', K_RUNS, f(rid, 'st')) ~= 'running' then
  return -1
end
local seq = tonumber(redis.call('HGET', K_THREAD, 'seq'))
local first = seq + 1
local n = tonumber(ARGV[6])
local at = 8
for i = 1, n do
  seq = seq + 1
  redis.call('XADD', K_LOG, string.format('%d-0', seq), 'r', rid, 'a', now, 'e', ARGV[at + i])
end
at = at + n
redis.call('HSETNX', K_RUNS, f(rid, 'ss'), first)
redis.call('HSET', K_RUNS, f(rid, 'st'), 'succeeded', f(rid, 'ea'), now)
redis.call('HDEL', K_RUNS, f(rid, 'lo'), f(rid, 'lt'), f(rid, 'le'))
redis.call('LREM', K_QUEUE, 0, rid)
syncQueued()
redis.call('ZREM', K_LEASES, cjson.encode({tid, rid}))
if redis.call('HGET', K_THREAD, 'act') == rid then redis.call('HDEL', K_THREAD, 'act') end
local pos = tonumber(redis.call('HGET', K_THREAD, 'np'))
for _ = 1, tonumber(ARGV[8]) do
  local id, body = ARGV[at + 1], ARGV[at + 2]
  at = at + 2
  if not redis.call('ZSCORE', K_MORDER, id) then
    redis.call('ZADD', K_MORDER, pos, id)
    redis.call('ZADD', K_MSEQ, seq, id)
    pos = pos + 1
  end
  redis.call('HSET', K_MSGS, id, body)
end
redis.call('HSET', K_THREAD, 'seq', seq, 'ua', now, 'np', pos, 'an', ARGV[7] .. ' ' .. first)
redis.call('ZADD', K_THREADS, -tonumber(now), tid)
redis.call('PUBLISH', ARGV[5], string.format('%d:%d:', first, seq) .. tid)
redis.call('PUBLISH', ARGV[5],
  cjson.encode({ runStarted = { threadId = tid, runId = rid, seq = first } }))
return first
`;

const SCRIPTS = { ENQUEUE, CLAIM_NEXT, GET_THREAD, APPEND };

export async function redisAppendCeiling(
  url: string,
  prefix: string,
): Promise<AppendCeiling & { stats: { messages: number } }> {
  const redis = new Redis(url, { lazyConnect: true });
  const sub = new Redis(url, { lazyConnect: true });
  redis.on("error", () => undefined);
  sub.on("error", () => undefined);
  await Promise.all([redis.connect(), sub.connect()]);
  const p = prefix;
  const epochKey = `${p}:epoch`;
  const epoch = randomUUID();
  await redis.set(epochKey, epoch);
  const channel = `${p}:appends`;
  const stats = { messages: 0 };
  sub.on("message", () => {
    stats.messages++;
  });
  await sub.subscribe(channel);
  const sha: Record<string, string> = {};
  for (const [name, src] of Object.entries(SCRIPTS))
    sha[name] = (await redis.script("LOAD", src)) as string;
  const keysOf = (tid: string) => [
    `${p}:thread:${tid}`,
    `${p}:log:${tid}`,
    `${p}:msgs:${tid}`,
    `${p}:msgorder:${tid}`,
    `${p}:runs:${tid}`,
    `${p}:runorder:${tid}`,
    `${p}:queue:${tid}`,
    `${p}:threads`,
    `${p}:leases`,
    `${p}:queued`,
    `${p}:fencefloor`,
    `${p}:msgseq:${tid}`,
    epochKey,
  ];
  /** epoch.ts run: EVALSHA with the epoch key last and its value last. */
  const run = (name: keyof typeof SCRIPTS, tid: string, args: (string | number)[]) => {
    const keys = keysOf(tid);
    return redis.evalsha(sha[name]!, keys.length, ...keys, tid, ...args, epoch);
  };
  /** epoch.ts exec: the reads in a MULTI after a GET of the epoch. */
  const exec = async (build: (m: ReturnType<Redis["multi"]>) => void) => {
    const m = redis.multi().get(epochKey);
    build(m);
    const replies = await m.exec();
    if (replies?.[0]?.[1] !== epoch) throw new Error("epoch changed");
    return replies;
  };
  const runFields = ["in", "st", "sa", "ea", "ss", "er", "lo", "lt", "le", "cr", "cb"];
  return {
    stats,
    async runOne(r, phases) {
      const tid = r.threadId;
      await phases.time("head", () =>
        exec((m) => m.hmget(`${p}:thread:${tid}`, "ca", "ua", "seq", "act", "meta", "hz", "intr")),
      );
      const runJson = JSON.stringify({
        agentId: r.agentId,
        trigger: JSON.parse(r.triggerJson),
        input: JSON.parse(r.inputJson),
        createdAt: Date.now(),
      });
      await phases.time("enqueue", () =>
        run("ENQUEUE", tid, [r.runId, Date.now(), runJson, randomUUID()]),
      );
      const claim = () => {
        const now = Date.now();
        return run("CLAIM_NEXT", tid, [OWNER, now, now + LEASE_MS, randomUUID()]) as Promise<
          [string, number, unknown] | null
        >;
      };
      const claimed = await phases.time("claim", claim);
      if (!claimed) throw new Error(`ceiling: run ${r.runId} was not claimed`);
      await phases.time("reads", async () => {
        await run("GET_THREAD", tid, []);
        await exec((m) => m.hmget(`${p}:runs:${tid}`, ...runFields.map((x) => `${r.runId}|${x}`)));
      });
      await phases.time("append", async () => {
        const first = await run("APPEND", tid, [
          r.runId,
          claimed[1],
          Date.now(),
          channel,
          r.events.length,
          randomUUID(),
          r.messages.length,
          ...r.events,
          ...r.messages.flatMap((m) => [m.id, m.json]),
        ]);
        if (Number(first) < 0) throw new Error(`ceiling: the fence of ${r.runId} did not hold`);
      });
      await phases.time("claim (empty)", claim);
    },
    async eventCount(threadId) {
      return Number((await redis.hget(`${p}:thread:${threadId}`, "seq")) ?? 0);
    },
    async close() {
      sub.disconnect();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${p}:*`, "COUNT", 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}
