-- workers: the live workers' registrations.
--
-- KEYS[1] workers (hash: id -> registration JSON)  KEYS[2] worker_expiry (zset: id by
-- expiry, server ms)
-- ARGV[1] most listed (the caller bounds it)
--
-- Returns: the registrations (JSON) of workers whose expiry has not passed, by id.
--
-- Uses lib.lua: now_ms.

local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_ms(), '+inf', 'LIMIT', 0, tonumber(ARGV[1]))
if #ids == 0 then return {} end
local out = {}
for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(ids))) do
  if v then out[#out + 1] = v end
end
return out
