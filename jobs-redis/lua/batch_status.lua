-- batch_status: a batch's counts, read atomically.
--
-- KEYS[1] meta  KEYS[2] members  KEYS[3] done   (see batch_add.lua)
--
-- Returns: nil for a batch never opened; else { total, succeeded, dead, finished (0/1),
--   dead ids }.

local state = redis.call('HMGET', KEYS[1], 'opened', 'finished', 'succeeded', 'dead')
if state[1] ~= '1' then return nil end
local dead_ids = {}
if tonumber(state[4] or '0') > 0 then
  local all = redis.call('HGETALL', KEYS[3])
  for i = 1, #all, 2 do
    if all[i + 1] == 'd' then dead_ids[#dead_ids + 1] = all[i] end
  end
end
return { redis.call('HLEN', KEYS[2]), tonumber(state[3] or '0'), tonumber(state[4] or '0'),
  state[2] == '1' and 1 or 0, dead_ids }
