-- stats: job counts of one queue, read atomically.
--
-- KEYS[1] scheduled  KEYS[2] ready  KEYS[3] leased  KEYS[4] succeeded  KEYS[5] dead
-- KEYS[6] jobs  KEYS[7] flow
--
-- Returns: { scheduled, ready, active, succeeded, dead, orphaned, paused (1 or 0) }; ready
-- counts the jobs waiting under a limit key, and the parked members of paused batches,
-- too. orphaned: records in
-- no set (left behind by a failure outside the framework; sweep.lua moves them to dead),
-- counted as records minus set entries, so O(1); entries whose record was deleted by hand
-- make it an underestimate.
--
-- Uses no lib.lua helper.

local flow = redis.call('HMGET', KEYS[7], 'waiting', 'paused', 'parked')
local counts = {
  redis.call('ZCARD', KEYS[1]),
  redis.call('ZCARD', KEYS[2]) + math.max(tonumber(flow[1]) or 0, 0) + math.max(tonumber(flow[3]) or 0, 0),
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]),
}
local in_sets = counts[1] + counts[2] + counts[3] + counts[4] + counts[5]
counts[6] = math.max(redis.call('HLEN', KEYS[6]) - in_sets, 0)
counts[7] = flow[2] == '1' and 1 or 0
return counts
