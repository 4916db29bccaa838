-- batch_page: one page of a batch's members, or of its dead members.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] 'members' or 'dead'   ARGV[2] offset   ARGV[3] limit (at most a few thousand)
--
-- Returns: members: { job id, queue, job id, queue, ... } in the order they joined;
--   dead: { job id, ... } in the order they were counted.
--
-- Uses no lib.lua helper.

local first = tonumber(ARGV[2])
local last = first + tonumber(ARGV[3]) - 1
if last < first then return {} end
if ARGV[1] == 'dead' then
  return redis.call('LRANGE', B_DEAD, first, last)
end
local ids = redis.call('LRANGE', B_ORDER, first, last)
if #ids == 0 then return {} end
local queues = redis.call('HMGET', B_MEMBERS, unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = queues[i] or ''
end
return out
