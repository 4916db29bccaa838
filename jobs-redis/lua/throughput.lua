-- throughput: one queue's ended jobs per minute, the last minutes (counted by finish.lua
-- through lib.lua's count_minute).
--
-- KEYS[1] tput
-- ARGV[1] minutes (the caller bounds it)
--
-- Returns: { current minute (server ms / 60000), then per minute, oldest first: succeeded,
-- failed, stalled } (0 for minutes without any).
--
-- Uses lib.lua: now_ms.

local minute = math.floor(now_ms() / 60000)
local n = tonumber(ARGV[1])
local out = { minute }
if n <= 0 then return out end
local fields = {}
for m = minute - n + 1, minute do
  fields[#fields + 1] = 's' .. m
  fields[#fields + 1] = 'f' .. m
  fields[#fields + 1] = 'x' .. m
end
for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(fields))) do
  out[#out + 1] = tonumber(v) or 0
end
return out
