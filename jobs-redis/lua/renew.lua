-- renew: extend the leases still held by their tokens.
--
-- KEYS[1] jobs    hash: id -> record
-- KEYS[2] leased  zset: id -> lease end (ms)
-- ARGV[1] lease ms, then 2 per lease: id, token
--
-- Returns: one number per lease: the new lease end, or 0 when the token is stale (the job
-- was recovered, handed to another worker, or finished). A stale lease is left unchanged.

local jobs, leased = KEYS[1], KEYS[2]
local expires = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], tonumber(ARGV[i + 1])
  local rec = load(jobs, id)
  if rec and rec[F_TOKEN] == token and redis.call('ZSCORE', leased, id) then
    redis.call('ZADD', leased, expires, id)
    out[#out + 1] = expires
  else
    out[#out + 1] = 0
  end
end
return out
