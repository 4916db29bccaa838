-- renew: extend the leases still held by their tokens.
--
-- KEYS[1] leased  zset: id -> lease end (ms)
-- KEYS[2] cancel  set: running jobs the application cancelled
-- KEYS[3] tokens  hash: leased id -> token
-- ARGV[1] lease ms, then 2 per lease: id, token
--
-- Returns: one status per lease (src/scripts/renew.rs reads them as LeaseStatus):
--   HELD    the new lease end (> 0);
--   CANCEL  its negative (< 0): the job was cancelled (the worker tells it to stop);
--   STALE = 0: the token is stale (the job was recovered, handed to another worker, or
--           finished). A stale lease is left unchanged.
--
-- Uses lib.lua: check_types, now_ms, lease_tokens.

-- tokens: read (HMGET) before any write, so a wrong type fails with nothing written.
local wrong = check_types({ { KEYS[1], 'zset' }, { KEYS[2], 'set' } })
if wrong then return wrong end

local leased = KEYS[1]
local expires = now_ms() + tonumber(ARGV[1])
local out = {}
local cancels = redis.call('SCARD', KEYS[2]) > 0
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local current = lease_tokens(KEYS[3], ids)
for n, id in ipairs(ids) do
  if current[n] == tonumber(ARGV[2 * n + 1]) and redis.call('ZSCORE', leased, id) then
    redis.call('ZADD', leased, 'XX', expires, id)
    if cancels and redis.call('SISMEMBER', KEYS[2], id) == 1 then
      out[#out + 1] = -expires
    else
      out[#out + 1] = expires
    end
  else
    out[#out + 1] = 0
  end
end
return out
