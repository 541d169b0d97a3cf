import { PRELUDE } from "./lua-runs.js";
import { LuaScript } from "./script.js";

/**
 * ARGV: tid, metadata JSON read before, new metadata JSON, now → the thread hash when the
 * metadata was still the one read (the caller patched it with the rule in core), 0 when it
 * changed meanwhile (the caller reads and patches again), -1 when the thread is unknown.
 */
export const SET_METADATA = new LuaScript(`${PRELUDE}
local current = redis.call('HGET', K_THREAD, 'meta')
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', K_THREAD, 'meta', ARGV[3], 'ua', ARGV[4])
redis.call('ZADD', K_THREADS, -tonumber(ARGV[4]), tid)
return redis.call('HGETALL', K_THREAD)
`);

/**
 * ARGV: tid → 1 when the thread existed, else 0. Removes the thread's keys (UNLINK: a long log is
 * freed in the background) and its entries in the global indexes (only the active run can hold a
 * lease), and raises the fencing-token floor to the thread's token.
 */
export const DELETE_THREAD = new LuaScript(`${PRELUDE}
if redis.call('EXISTS', K_THREAD) == 0 then return 0 end
local act = redis.call('HGET', K_THREAD, 'act')
if act then redis.call('ZREM', K_LEASES, leaseMember(act)) end
-- fenceFloorAfterDelete (core/run-rules.ts)
local tok = tonumber(redis.call('HGET', K_THREAD, 'tok'))
if tok > tonumber(redis.call('GET', K_FENCE) or '0') then redis.call('SET', K_FENCE, tok) end
redis.call('UNLINK', K_THREAD, K_LOG, K_MSGS, K_MORDER, K_RUNS, K_RORDER, K_QUEUE, K_MSEQ)
redis.call('ZREM', K_THREADS, tid)
redis.call('SREM', K_QUEUED, tid)
redis.call('ZREM', K_IDUE, tid)
return 1
`);

/**
 * ARGV: tid, horizon, endedBefore → {horizon, events, messages, runs} (a compaction step, see
 * `CompactionResult` in core/compaction.ts), or false when the thread is unknown. Runs are
 * scanned oldest created first and the scan stops at the first run started after the horizon;
 * a run created earlier but started later (multitask interrupt) goes with a later step.
 */
export const COMPACT = new LuaScript(`${PRELUDE}
if redis.call('EXISTS', K_THREAD) == 0 then return false end
local from = tonumber(redis.call('HGET', K_THREAD, 'hz') or '0')
local h = math.min(tonumber(ARGV[2]), tonumber(redis.call('HGET', K_THREAD, 'seq')))
if h <= from then return {from, 0, 0, 0} end
local endedBefore = tonumber(ARGV[3])
local before = redis.call('XLEN', K_LOG)
redis.call('XTRIM', K_LOG, 'MINID', string.format('%d-0', h + 1))
local events = before - redis.call('XLEN', K_LOG)

local ids = redis.call('ZRANGEBYSCORE', K_MSEQ, '-inf', h)
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  redis.call('HDEL', K_MSGS, unpack(part))
  redis.call('ZREM', K_MORDER, unpack(part))
end
redis.call('ZREMRANGEBYSCORE', K_MSEQ, '-inf', h)

-- runCompacted (core/compaction.ts)
local runs, offset = 0, 0
local done = false
while not done do
  local page = redis.call('ZRANGE', K_RORDER, offset, offset + 199)
  if #page == 0 then break end
  for _, rid in ipairs(page) do
    local st = redis.call('HGET', K_RUNS, f(rid, 'st'))
    local ss = tonumber(redis.call('HGET', K_RUNS, f(rid, 'ss')) or '')
    local ea = tonumber(redis.call('HGET', K_RUNS, f(rid, 'ea')) or '')
    if ss and ss > h then
      done = true
      break
    end
    local ended = st and st ~= 'queued' and st ~= 'running'
    if ended and ((ss and ss <= h) or (not ss and ea and ea < endedBefore)) then
      -- Its fields, and the call ids that make resent enqueues and claims no-ops.
      local names = {f(rid, 'nq'), f(rid, 'cq')}
      for _, n in ipairs(RUN_FIELDS) do names[#names + 1] = f(rid, n) end
      redis.call('HDEL', K_RUNS, unpack(names))
      redis.call('ZREM', K_RORDER, rid)
      runs = runs + 1
    else
      offset = offset + 1
    end
  end
end
redis.call('HSET', K_THREAD, 'hz', h)
return {h, events, #ids, runs}
`);
