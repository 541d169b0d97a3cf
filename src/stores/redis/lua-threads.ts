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
redis.call('UNLINK', K_THREAD, K_LOG, K_MSGS, K_MORDER, K_RUNS, K_RORDER, K_QUEUE)
redis.call('ZREM', K_THREADS, tid)
redis.call('SREM', K_QUEUED, tid)
return 1
`);
