-- worker_beat: register or refresh a live worker, or remove one, and drop the expired.
--
-- KEYS[1] workers (hash: id -> registration JSON, and `<id> beat` -> last beat, server
-- ms)  KEYS[2] worker_expiry (zset: id by expiry, server ms)
-- ARGV[1] worker id  ARGV[2] registration (JSON, kept as sent: the beat and expiry
--   times are kept beside it, so nothing is decoded here) or '' to remove the worker
-- ARGV[3] ttl ms
--
-- At most 100 expired registrations are dropped per call (a worker killed with SIGKILL
-- leaves its own behind), so each call stays short.
--
-- Returns: 1.
--
-- Uses lib.lua: now_ms.

local now = now_ms()
local function drop(ids)
  for _, id in ipairs(ids) do
    redis.call('HDEL', KEYS[1], id, id .. ' beat')
    redis.call('ZREM', KEYS[2], id)
  end
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100))
if ARGV[2] == '' then
  drop({ ARGV[1] })
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ' beat', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
