-- batch_status: a batch's counts, read atomically, in steps that do not grow with it.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] most dead ids returned
--
-- Returns: nil for a batch never opened; else { total, succeeded, dead, finished (0/1),
--   the first dead ids, the queues its members sit on (to read how many run: one
--   batch_active field per queue), paused (0/1) }.
--
-- Uses no lib.lua helper.

local state = redis.call('HMGET', B_META, 'opened', 'finished', 'succeeded', 'dead', 'paused')
if state[1] ~= '1' then return nil end
local dead = tonumber(state[4] or '0')
local dead_ids = {}
if dead > 0 then
  dead_ids = redis.call('LRANGE', B_DEAD, 0, tonumber(ARGV[1]) - 1)
end
return { redis.call('HLEN', B_MEMBERS), tonumber(state[3] or '0'), dead,
  state[2] == '1' and 1 or 0, dead_ids, redis.call('SMEMBERS', B_QUEUES), state[5] == '1' and 1 or 0 }
