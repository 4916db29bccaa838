-- renew: extend the leases still held by their tokens.
--
-- KEYS[1] leased  zset: id:token -> lease end (ms)
-- ARGV[1] lease ms, then 2 per lease: id, token
--
-- Returns: one number per lease: the new lease end, or 0 when the token is stale (the job
-- was recovered, handed to another worker, or finished). A stale lease is left unchanged.

local wrong = check_types({ { KEYS[1], 'zset' } })
if wrong then return wrong end

local leased = KEYS[1]
local expires = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local member = lease_member(ARGV[i], tonumber(ARGV[i + 1]))
  if redis.call('ZSCORE', leased, member) then
    redis.call('ZADD', leased, 'XX', expires, member)
    out[#out + 1] = expires
  else
    out[#out + 1] = 0
  end
end
return out
