-- reserve: lease up to N ready jobs of one queue to the caller.
--
-- First makes due scheduled jobs ready and recovers expired leases, each in a bounded
-- slice, so no separate scheduler process is needed.
--
-- KEYS[1] jobs       hash: id -> record
-- KEYS[2] ready      zset
-- KEYS[3] scheduled  zset
-- KEYS[4] leased     zset: id -> lease end (ms)
-- KEYS[5] dead       zset
-- KEYS[6] wake       list
-- KEYS[7] seq        counter: fencing tokens
-- ARGV[1] max jobs   ARGV[2] lease ms
-- ARGV[3] promote limit   ARGV[4] recover limit   ARGV[5] max stalls
-- ARGV[6] dead max   ARGV[7] dead max age ms   ARGV[8] trim batch
--
-- Returns: { next_in, skipped, id1, name1, payload1, attempt1, max1, deliveries1, token1,
--   lease_end1, id2, ... }. When no job was leased, next_in is the time in ms until the
--   earliest scheduled run-at or lease end (-1 if there is none); 0 otherwise. Relative, so
--   the caller never compares its own clock with the server's. skipped is a list of
--   {id, reason} for ready entries whose record was missing or corrupt: they are taken out
--   of ready (a corrupt record is kept in dead for inspection) instead of blocking the queue.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'list' }, { KEYS[7], 'string' } })
if wrong then return wrong end

local jobs, ready, scheduled, leased, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local max, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local limits = { tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]) }
local now = now_ms()

local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do
  local id = due[i]
  redis.call('ZREM', scheduled, id)
  local rec = load(jobs, id)
  if rec then
    rec[F_READY_AT] = tonumber(due[i + 1])
    store(jobs, id, rec)
    redis.call('ZADD', ready, ready_score(rec), id)
  end
end
recover_expired(jobs, ready, leased, dead, now, tonumber(ARGV[4]), tonumber(ARGV[5]), limits)

local out = { 0, {} }
local popped = redis.call('ZPOPMIN', ready, max)
local expires = now + lease_ms
local token = 0
if #popped > 0 then
  token = redis.call('INCRBY', KEYS[7], #popped / 2) - #popped / 2
end
for i = 1, #popped, 2 do
  local id = popped[i]
  local rec, why = load(jobs, id)
  if rec then
    token = token + 1
    rec[F_ATTEMPTS] = rec[F_ATTEMPTS] + 1
    rec[F_DELIVERIES] = rec[F_DELIVERIES] + 1
    rec[F_TOKEN] = token
    store(jobs, id, rec)
    redis.call('ZADD', leased, expires, id)
    local n = #out
    out[n + 1] = id
    out[n + 2] = rec[F_NAME]
    out[n + 3] = rec[F_PAYLOAD]
    out[n + 4] = rec[F_ATTEMPTS]
    out[n + 5] = rec[F_MAX_ATTEMPTS]
    out[n + 6] = rec[F_DELIVERIES]
    out[n + 7] = token
    out[n + 8] = expires
  else
    if why == 'corrupt' then
      redis.call('ZADD', dead, now, id)
    end
    table.insert(out[2], { id, why })
  end
end

if #out == 2 then
  local next_due = -1
  local s = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
  if #s > 0 then next_due = tonumber(s[2]) end
  local l = redis.call('ZRANGE', leased, 0, 0, 'WITHSCORES')
  if #l > 0 and (next_due < 0 or tonumber(l[2]) < next_due) then next_due = tonumber(l[2]) end
  if next_due >= 0 then next_due = math.max(next_due - now, 0) end
  out[1] = next_due
else
  -- Wake another idle worker: if work is left, to take it; if not, so that it learns of
  -- the new lease end (from its own empty reservation) and is awake to recover the job
  -- should this worker die, instead of sleeping out its idle timeout.
  wake(KEYS[6])
end
return out
