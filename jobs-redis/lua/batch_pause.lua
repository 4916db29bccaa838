-- batch_pause: mark a batch paused or resumed (meta's `paused`); the caller then tells each
-- queue its members sit on (set_batch_pause.lua), which is what reservations read.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] 'pause' or 'resume'
--
-- Returns: nil for a batch never opened; else the queues its members sit on.
--
-- Uses no lib.lua helper.

if redis.call('HGET', B_META, 'opened') ~= '1' then return nil end
if ARGV[1] == 'pause' then
  redis.call('HSET', B_META, 'paused', '1')
else
  redis.call('HDEL', B_META, 'paused')
end
return redis.call('SMEMBERS', B_QUEUES)
