-- set_flow: change a queue's flow control (see lib.lua, "Flow control"): its limits, or
-- whether it is paused.
--
-- KEYS[1] flow  KEYS[2] groups  KEYS[3] gactive  KEYS[4] group  KEYS[5] wake
-- KEYS[6] gdelayed
-- ARGV[1] what:
--   'limits': ARGV[2] concurrency, ARGV[3] per_key, ARGV[4] rate, ARGV[5] rate_ms,
--     ARGV[6] key_rate, ARGV[7] key_rate_ms (each a positive integer, '' for none)
--   'pause', 'resume'
--
-- Returns: 1.
--
-- Raised or removed per-key limits list again the keys held at the old one, up to
-- RELIST_MAX of them (those with the most running jobs may wait for one to end);
-- lowered ones are applied by reserve.lua as it takes each key's next job. A worker is
-- woken whenever jobs may start that could not before.
--
-- Uses lib.lua: check_types, wake, flow_conf, group_relist.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'hash' }, { KEYS[5], 'list' } })
if wrong then return wrong end

local RELIST_MAX = 1000
local k = { flow = KEYS[1], groups = KEYS[2], gactive = KEYS[3], group = KEYS[4], gdelayed = KEYS[6] }
local what = ARGV[1]
if what == 'pause' then
  redis.call('HSET', k.flow, 'paused', '1')
elseif what == 'resume' then
  redis.call('HDEL', k.flow, 'paused')
  wake(KEYS[5])
elseif what == 'limits' then
  local old = flow_conf(k).per_key
  for i, field in ipairs({ 'concurrency', 'per_key', 'rate', 'rate_ms', 'key_rate', 'key_rate_ms' }) do
    local v = ARGV[i + 1]
    if v == '' then
      redis.call('HDEL', k.flow, field)
    else
      redis.call('HSET', k.flow, field, v)
    end
  end
  local new = tonumber(ARGV[3])
  if old and (not new or new > old) then
    k.conf = nil
    local held = redis.call('HSCAN', k.gactive, 0, 'COUNT', RELIST_MAX)[2]
    for i = 1, #held, 2 do
      group_relist(k, held[i], tonumber(held[i + 1]))
    end
  end
  wake(KEYS[5])
else
  return redis.error_reply('ERR set_flow: unknown change ' .. tostring(what))
end
return 1
