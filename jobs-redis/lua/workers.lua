-- workers: the live workers' registrations.
--
-- KEYS[1] workers (hash: id -> registration JSON, and `<id> beat` -> last beat)
-- KEYS[2] worker_expiry (zset: id by expiry, server ms)
-- ARGV[1] most listed (the caller bounds it)
--
-- Returns: { registration JSON, last beat ms, expiry ms } per worker whose expiry has not
-- passed, by id.
--
-- Uses lib.lua: now_ms.

local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_ms(), '+inf', 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[1]))
local out = {}
for i = 1, #live, 2 do
  local id = live[i]
  local got = redis.call('HMGET', KEYS[1], id, id .. ' beat')
  if got[1] then
    out[#out + 1] = { got[1], got[2] or '0', live[i + 1] }
  end
end
return out
