import { PRELUDE } from "./lua-runs.js";
import { LuaScript } from "./script.js";

/**
 * The fenced append as one script, so it is atomic: fence check, gapless seqs (XADD with
 * explicit ids `<seq>-0`), the run's start seq, the run's end on a terminal event, the view
 * update, the thread's bookkeeping and the announcement on the appends channel. Every step
 * touches only the entries it changes, so its cost does not grow with the thread's history.
 *
 * ARGV: 1 tid, 2 rid, 3 token, 4 now, 5 channel, 6 event count, 7 index of the first RUN_STARTED
 * (1-based, 0 for none), 8 index of the terminal event (0 for none), 9 terminal status,
 * 10 terminal error JSON or '', 11 replace messages '1'|'0', 12 replacement count, 13 upsert
 * count, 14 state given '1'|'0', 15 state JSON, 16 the append's id, 17 the pending interrupts'
 * JSON or '' when unchanged; then the event JSONs; then
 * (id, JSON) pairs of the replacement messages; then those of the upserted messages.
 * Returns the first seq, or -1 when the fence is stale (LEASE_LOST).
 *
 * Idempotent: the thread keeps the id and first seq of its last append (`an`), and the same id
 * again returns that seq without writing. ioredis sends a command again after a reconnect when
 * its reply was lost — it may have run — and an append must not commit twice under new seqs.
 */
export const APPEND = new LuaScript(`${PRELUDE}
local rid, token, now = ARGV[2], ARGV[3], ARGV[4]
local last = redis.call('HGET', K_THREAD, 'an')
if last then
  local id, done = string.match(last, '^(%S+) (%d+)$')
  if id == ARGV[16] then return tonumber(done) end
end
if redis.call('HGET', K_THREAD, 'act') ~= rid or redis.call('HGET', K_THREAD, 'tok') ~= token
  or redis.call('HGET', K_RUNS, f(rid, 'st')) ~= 'running' then
  return -1
end
local seq = tonumber(redis.call('HGET', K_THREAD, 'seq'))
local first = seq + 1
local n = tonumber(ARGV[6])
local at = 18
for i = 1, n do
  seq = seq + 1
  redis.call('XADD', K_LOG, string.format('%d-0', seq), 'r', rid, 'a', now, 'e', ARGV[at + i])
end
at = at + n
local started = tonumber(ARGV[7])
if started > 0 then redis.call('HSETNX', K_RUNS, f(rid, 'ss'), first + started - 1) end
if tonumber(ARGV[8]) > 0 then endRun(rid, ARGV[9], now, ARGV[10]) end

local pos = tonumber(redis.call('HGET', K_THREAD, 'np'))
if ARGV[11] == '1' then
  redis.call('DEL', K_MSGS, K_MORDER, K_MSEQ)
  pos = 0
end
-- A known id keeps its place and takes the new content; a new id goes to the end.
local function upsert(count)
  for _ = 1, count do
    local id, body = ARGV[at + 1], ARGV[at + 2]
    at = at + 2
    if not redis.call('ZSCORE', K_MORDER, id) then
      redis.call('ZADD', K_MORDER, pos, id)
      -- The seq that first wrote it: compaction removes it with its run.
      redis.call('ZADD', K_MSEQ, seq, id)
      pos = pos + 1
    end
    redis.call('HSET', K_MSGS, id, body)
  end
end
upsert(tonumber(ARGV[12]))
upsert(tonumber(ARGV[13]))
if ARGV[14] == '1' then redis.call('HSET', K_THREAD, 'state', ARGV[15]) end
if ARGV[17] ~= '' then
  redis.call('HSET', K_THREAD, 'intr', ARGV[17])
  if ARGV[18] ~= '' then
    redis.call('ZADD', K_IDUE, ARGV[18], tid)
  else
    redis.call('ZREM', K_IDUE, tid)
  end
end

redis.call('HSET', K_THREAD, 'seq', seq, 'ua', now, 'np', pos, 'an', ARGV[16] .. ' ' .. first)
redis.call('ZADD', K_THREADS, -tonumber(now), tid)
if n > 0 then
  -- Published inside the script: subscribers hear of commits in commit (= seq) order.
  redis.call('PUBLISH', ARGV[5], string.format('%d:%d:', first, seq) .. tid)
end
if started > 0 then
  -- The store-wide run-start signal on the same channel (see run-start-notice.ts).
  redis.call('PUBLISH', ARGV[5],
    cjson.encode({ runStarted = { threadId = tid, runId = rid, seq = first + started - 1 } }))
end
return first
`);
