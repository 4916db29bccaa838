-- stats: job counts of one queue, read atomically.
--
-- KEYS[1] scheduled  KEYS[2] ready  KEYS[3] leased  KEYS[4] succeeded  KEYS[5] dead
--
-- Returns: { scheduled, ready, active, succeeded, dead }.

return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]),
}
