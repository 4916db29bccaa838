-- batch_confirm: the callbacks of a complete batch are enqueued; the batch is finished.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] how long the finished batch stays readable, ms
--
-- Returns: 1.
--
-- Uses batch_lib.lua: batch_check_types.

local wrong = batch_check_types()
if wrong then return wrong end

redis.call('HSET', B_META, 'finished', '1')
redis.call('HDEL', B_META, 'claim')
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[1])
end
return 1
