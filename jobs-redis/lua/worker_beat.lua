-- worker_beat: register or refresh a live worker, or remove one, and drop the expired.
--
-- KEYS[1] workers (hash: id -> registration JSON)  KEYS[2] worker_expiry (zset: id by
-- expiry, server ms)
-- ARGV[1] worker id  ARGV[2] registration (JSON, with last_beat_ms and expires_at_ms
--   left for this script to set), or '' to remove the worker  ARGV[3] ttl ms
--
-- At most 100 expired registrations are dropped per call (a worker killed with SIGKILL
-- leaves its own behind), so each call stays short.
--
-- Returns: 1.
--
-- Uses lib.lua: now_ms.

local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  redis.call('ZREM', KEYS[2], unpack(expired))
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
local info = cjson.decode(ARGV[2])
local expires = now + tonumber(ARGV[3])
info.last_beat_ms = now
info.expires_at_ms = expires
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(info))
redis.call('ZADD', KEYS[2], expires, ARGV[1])
return 1
