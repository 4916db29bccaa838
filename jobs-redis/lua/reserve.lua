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
-- KEYS[8] events     stream
-- KEYS[9] outbox     zset: batch work by due time, for the caller to do
-- KEYS[10] cancel    set: running jobs the application cancelled
-- ARGV[1] max jobs   ARGV[2] lease ms
-- ARGV[3] promote limit   ARGV[4] recover limit   ARGV[5] max stalls
-- ARGV[6] dead max   ARGV[7] dead max age ms   ARGV[8] trim batch
-- ARGV[9] events max length (0: off)
--
-- Returns: { next_in, skipped, lease_end, outbox entries due, id1, record1, token1, id2, ... }. The records
--   come back as stored (msgpack, decoded by the caller, which adds this delivery to the
--   attempts and deliveries they count): nothing is unpacked or rewritten here. When no
--   job was leased, next_in is the time in ms until the earliest scheduled run-at, lease
--   end or outbox entry (-1 if there is none); 0 otherwise. Relative, so the caller never compares its own
--   clock with the server's. skipped lists the ids of ready entries whose record was
--   missing: they are taken out of ready instead of blocking the queue. (A record the
--   caller cannot read goes to dead through finish's 'corrupt' outcome.)

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'list' }, { KEYS[7], 'string' },
  { KEYS[8], 'stream' }, { KEYS[9], 'zset' }, { KEYS[10], 'set' } })
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
    set_ready_at(rec, tonumber(due[i + 1]))
    store(jobs, id, rec)
    redis.call('ZADD', ready, ready_score(rec), id)
  end
end
local ev = {}
recover_expired(jobs, ready, leased, dead, now, tonumber(ARGV[4]), tonumber(ARGV[5]), limits, ev, KEYS[9], KEYS[10])

local expires = now + lease_ms
-- Formatted once: Lua would format the number again for every ZADD.
local expires_arg = string.format('%d', expires)
local out = { 0, {}, expires, 0 }
-- ZRANGE + ZREMRANGEBYRANK rather than ZPOPMIN: the ready scores are not needed, and
-- formatting them for the reply was a measurable share of the server's time.
local popped = redis.call('ZRANGE', ready, 0, max - 1)
local token = 0
if #popped > 0 then
  redis.call('ZREMRANGEBYRANK', ready, 0, #popped - 1)
  token = redis.call('INCRBY', KEYS[7], #popped) - #popped
end
for _, id in ipairs(popped) do
  local raw = redis.call('HGET', jobs, id)
  if raw then
    token = token + 1
    redis.call('ZADD', leased, expires_arg, lease_member(id, token))
    local n = #out
    out[n + 1] = id
    out[n + 2] = raw
    out[n + 3] = token
    event(ev, 'started', id)
  else
    table.insert(out[2], id)
  end
end

emit_events(KEYS[8], tonumber(ARGV[9]), ev)

-- Entries left by a caller that stopped before counting them: the caller drains them.
out[4] = redis.call('ZCOUNT', KEYS[9], '-inf', now)

if #out == 4 then
  local next_due = -1
  local s = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
  if #s > 0 then next_due = tonumber(s[2]) end
  local l = redis.call('ZRANGE', leased, 0, 0, 'WITHSCORES')
  if #l > 0 and (next_due < 0 or tonumber(l[2]) < next_due) then next_due = tonumber(l[2]) end
  local o = redis.call('ZRANGEBYSCORE', KEYS[9], string.format('(%d', now), '+inf', 'LIMIT', 0, 1, 'WITHSCORES')
  if #o > 0 and (next_due < 0 or tonumber(o[2]) < next_due) then next_due = tonumber(o[2]) end
  if next_due >= 0 then next_due = math.max(next_due - now, 0) end
  out[1] = next_due
else
  -- Wake another idle worker: if work is left, to take it; if not, so that it learns of
  -- the new lease end (from its own empty reservation) and is awake to recover the job
  -- should this worker die, instead of sleeping out its idle timeout.
  wake(KEYS[6])
end
return out
