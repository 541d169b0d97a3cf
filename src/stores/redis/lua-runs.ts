import { EPOCH_CHECK } from "./epoch.js";
import { LuaScript } from "./script.js";

/**
 * Shared head of every thread-scoped script: names the KEYS (`RedisKeys.forThread`) and the
 * helpers, after the epoch check (`EPOCH_CHECK`: the epoch key and value come last). ARGV[1] is
 * always the thread id.
 */
export const PRELUDE = `${EPOCH_CHECK}
local K_THREAD, K_LOG, K_MSGS, K_MORDER, K_RUNS, K_RORDER, K_QUEUE, K_THREADS, K_LEASES, K_QUEUED,
  K_FENCE, K_MSEQ, K_IDUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
  KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local tid = ARGV[1]
local function f(rid, name) return rid .. '|' .. name end
local function leaseMember(rid) return cjson.encode({tid, rid}) end
local RUN_FIELDS = {'in', 'st', 'sa', 'ea', 'ss', 'er', 'lo', 'lt', 'le', 'cr', 'cb'}
local function runFields(rid)
  local names = {}
  for i, n in ipairs(RUN_FIELDS) do names[i] = f(rid, n) end
  return redis.call('HMGET', K_RUNS, unpack(names))
end
local function ensureThread(now, meta)
  if redis.call('EXISTS', K_THREAD) == 0 then
    redis.call('HSET', K_THREAD, 'ca', now, 'ua', now, 'seq', 0, 'tok', 0, 'meta', meta,
      'state', '{}', 'np', 0, 'rc', 0)
    redis.call('ZADD', K_THREADS, -tonumber(now), tid)
  end
end
local function syncQueued()
  if redis.call('LLEN', K_QUEUE) > 0 then
    redis.call('SADD', K_QUEUED, tid)
  else
    redis.call('SREM', K_QUEUED, tid)
  end
end
-- nextFenceToken (core/run-rules.ts): above the thread's token and every deleted thread's.
local function issueToken()
  local tok = math.max(tonumber(redis.call('GET', K_FENCE) or '0'),
    tonumber(redis.call('HGET', K_THREAD, 'tok'))) + 1
  redis.call('HSET', K_THREAD, 'tok', tok)
  return tok
end
-- Ends a run: out of the queue, lease dropped, thread freed if it was the active run.
local function endRun(rid, status, now, err)
  redis.call('HSET', K_RUNS, f(rid, 'st'), status, f(rid, 'ea'), now)
  if err ~= '' then redis.call('HSET', K_RUNS, f(rid, 'er'), err) end
  redis.call('HDEL', K_RUNS, f(rid, 'lo'), f(rid, 'lt'), f(rid, 'le'))
  redis.call('LREM', K_QUEUE, 0, rid)
  syncQueued()
  redis.call('ZREM', K_LEASES, leaseMember(rid))
  if redis.call('HGET', K_THREAD, 'act') == rid then redis.call('HDEL', K_THREAD, 'act') end
end
`;

const script = (body: string) => new LuaScript(PRELUDE + body);

/** ARGV: tid, now, metadata JSON → the thread hash (HGETALL). */
export const ENSURE_THREAD = script(`
ensureThread(ARGV[2], ARGV[3])
return redis.call('HGETALL', K_THREAD)
`);

/** ARGV: tid → {thread hash, message JSONs in order} (one atomic snapshot). */
export const GET_THREAD = script(`
local head = redis.call('HGETALL', K_THREAD)
if #head == 0 then return false end
local ids = redis.call('ZRANGE', K_MORDER, 0, -1)
local msgs = {}
-- In chunks: Lua's unpack() fails past a few thousand values ("too many results to unpack").
for i = 1, #ids, 1000 do
  local part = redis.call('HMGET', K_MSGS, unpack(ids, i, math.min(i + 999, #ids)))
  for _, m in ipairs(part) do msgs[#msgs + 1] = m end
end
return {head, msgs}
`);

/**
 * ARGV: tid, rid, strategy, now, static run JSON, the call's id, the JSON ids of the pending
 * interrupts the run was checked against ('': not checked) → {'OK', interrupted run id or ''} |
 * {'CONFLICT'} | {'INTERRUPTS'} | {'BUSY', active run id or '', queued count}, in
 * `decideEnqueue`'s order. The same call again (ioredis resent a command whose reply was lost;
 * its id is kept in field `nq`) is 'OK'.
 */
export const ENQUEUE = script(`
local rid, strategy, now = ARGV[2], ARGV[3], ARGV[4]
ensureThread(now, '{}')
if redis.call('HEXISTS', K_RUNS, f(rid, 'st')) == 1 then
  if redis.call('HGET', K_RUNS, f(rid, 'nq')) == ARGV[6] then return {'OK', ''} end
  return {'CONFLICT'}
end
if ARGV[7] ~= '' then
  local want = cjson.decode(ARGV[7])
  local intr = redis.call('HGET', K_THREAD, 'intr')
  local have = intr and cjson.decode(intr) or {}
  if #have ~= #want then return {'INTERRUPTS'} end
  for i = 1, #have do
    if have[i].id ~= want[i] then return {'INTERRUPTS'} end
  end
end
local act = redis.call('HGET', K_THREAD, 'act')
local queued = redis.call('LLEN', K_QUEUE)
if strategy == 'reject' and (act or queued > 0) then return {'BUSY', act or '', queued} end
redis.call('HSET', K_RUNS, f(rid, 'in'), ARGV[5], f(rid, 'st'), 'queued', f(rid, 'nq'), ARGV[6])
redis.call('ZADD', K_RORDER, redis.call('HINCRBY', K_THREAD, 'rc', 1), rid)
if strategy == 'interrupt' then
  redis.call('LPUSH', K_QUEUE, rid)
else
  redis.call('RPUSH', K_QUEUE, rid)
end
redis.call('SADD', K_QUEUED, tid)
if strategy == 'interrupt' and act then
  redis.call('HSET', K_RUNS, f(act, 'cr'), '1')
  return {'OK', act}
end
return {'OK', ''}
`);

/**
 * ARGV: tid, owner, now, lease expiry, the call's id → {run id, token, run fields} | nil. A resend
 * of a claim that ran (its id is kept in the run's field `cq`) returns that claim.
 */
export const CLAIM_NEXT = script(`
if redis.call('EXISTS', K_THREAD) == 0 then return false end
local act = redis.call('HGET', K_THREAD, 'act')
if act then
  local r = redis.call('HMGET', K_RUNS, f(act, 'cq'), f(act, 'lt'))
  if r[1] == ARGV[5] then return {act, tonumber(r[2]), runFields(act)} end
  return false
end
local rid = redis.call('LPOP', K_QUEUE)
if not rid then return false end
syncQueued()
local tok = issueToken()
redis.call('HSET', K_RUNS, f(rid, 'st'), 'running', f(rid, 'sa'), ARGV[3], f(rid, 'lo'), ARGV[2],
  f(rid, 'lt'), tok, f(rid, 'le'), ARGV[4], f(rid, 'cq'), ARGV[5])
redis.call('HSET', K_THREAD, 'act', rid)
redis.call('ZADD', K_LEASES, ARGV[4], leaseMember(rid))
return {rid, tok, runFields(rid)}
`);

/** ARGV: tid, rid, token, lease expiry → {ok 0|1, cancelRequested 0|1}. */
export const RENEW = script(`
local rid, token = ARGV[2], ARGV[3]
if redis.call('HGET', K_THREAD, 'act') ~= rid or redis.call('HGET', K_THREAD, 'tok') ~= token then
  return {0, 0}
end
local r = redis.call('HMGET', K_RUNS, f(rid, 'st'), f(rid, 'lo'), f(rid, 'lt'), f(rid, 'cr'))
if r[1] ~= 'running' or not r[2] or r[3] ~= token then return {0, 0} end
redis.call('HSET', K_RUNS, f(rid, 'le'), ARGV[4])
redis.call('ZADD', K_LEASES, ARGV[4], leaseMember(rid))
if r[4] == '1' then return {1, 1} end
return {1, 0}
`);

/** ARGV: tid, rid, owner, now, lease expiry, force '1'|'0' → {token, run fields} | nil. */
export const TAKE_OVER = script(`
local rid = ARGV[2]
if redis.call('HGET', K_THREAD, 'act') ~= rid then return false end
if redis.call('HGET', K_RUNS, f(rid, 'st')) ~= 'running' then return false end
if ARGV[6] ~= '1' then
  local expires = redis.call('HGET', K_RUNS, f(rid, 'le'))
  if expires and tonumber(expires) > tonumber(ARGV[4]) then return false end
end
-- The new token fences out the previous holder: its appends fail with LEASE_LOST.
local tok = issueToken()
redis.call('HSET', K_RUNS, f(rid, 'lo'), ARGV[3], f(rid, 'lt'), tok, f(rid, 'le'), ARGV[5])
redis.call('ZADD', K_LEASES, ARGV[5], leaseMember(rid))
return {tok, runFields(rid)}
`);

/** ARGV: tid, rid, status, now, error JSON or '' → run fields | nil. */
export const MARK_ENDED = script(`
local rid = ARGV[2]
if redis.call('EXISTS', K_THREAD) == 0 or redis.call('HEXISTS', K_RUNS, f(rid, 'st')) == 0 then
  return false
end
endRun(rid, ARGV[3], ARGV[4], ARGV[5])
return runFields(rid)
`);

/** ARGV: tid, rid, now, who cancels (JSON) or '' → run fields | nil. */
export const REQUEST_CANCEL = script(`
local rid = ARGV[2]
local status = redis.call('HGET', K_RUNS, f(rid, 'st'))
if not status then return false end
if ARGV[4] ~= '' and (status == 'queued' or status == 'running') then
  redis.call('HSETNX', K_RUNS, f(rid, 'cb'), ARGV[4])
end
if status == 'queued' then
  endRun(rid, 'cancelled', ARGV[3], '')
elseif status == 'running' then
  redis.call('HSET', K_RUNS, f(rid, 'cr'), '1')
end
return runFields(rid)
`);

/** ARGV: tid, limit → {run id, run fields}... newest first. */
export const LIST_RUNS = script(`
local limit = tonumber(ARGV[2])
local offset = tonumber(ARGV[3])
if limit <= 0 then return {} end
local out = {}
for _, rid in ipairs(redis.call('ZREVRANGE', K_RORDER, offset, offset + limit - 1)) do
  out[#out + 1] = {rid, runFields(rid)}
end
return out
`);
