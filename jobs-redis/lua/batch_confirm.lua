-- batch_confirm: the callbacks of a complete batch are enqueued; the batch is finished.
--
-- KEYS[1] meta  KEYS[2] members  KEYS[3] done   (see batch_add.lua)
-- ARGV[1] how long the finished batch stays readable, ms
--
-- Returns: 1.

redis.call('HSET', KEYS[1], 'finished', '1')
redis.call('HDEL', KEYS[1], 'claim')
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[1])
end
return 1
