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
-- KEYS[11] tokens    hash: leased id -> fencing token
-- KEYS[12] batch_active  hash: batch id -> members of it leased now
-- KEYS[13] flow      hash: paused, limits, waiting (see lib.lua, "Flow control")
-- KEYS[14] groups    zset: limit keys with a waiting job and a free slot
-- KEYS[15] gactive   hash: limit key -> its jobs leased now
-- KEYS[16] group     prefix of each limit key's line (a zset of its ready jobs)
-- KEYS[17] gdelayed  zset: limit keys held back, by when they may run again
-- KEYS[18] rate      zset: the queue's recent starts (token by start time)
-- KEYS[19] krate     prefix of each limit key's recent starts
-- KEYS[20] bpaused   set: paused batches with members here
-- KEYS[21] parked    prefix of each paused batch's parked members
-- KEYS[22] tput      hash: per-minute counts (recovered leases, lib.lua's count_minute)
-- ARGV[1] max jobs   ARGV[2] lease ms
-- ARGV[3] promote limit   ARGV[4] recover limit   ARGV[5] max stalls
-- ARGV[6] dead max   ARGV[7] dead max age ms   ARGV[8] trim batch
-- ARGV[9] events max length (0: off)
--
-- Returns: { next_in, skipped, lease_end, outbox entries due, id1, record1, token1, id2, ... }.
--   The records come back as stored (msgpack, decoded by the caller, which adds this
--   delivery to the attempts and deliveries they count): nothing is rewritten here.
--   When no job was leased, next_in is the time in ms until the earliest scheduled run-at,
--   lease end or outbox entry (-1 if there is none); 0 otherwise. Relative, so the caller
--   never compares its own clock with the server's. skipped lists the ids of ready entries
--   whose record was missing: they are taken out of ready and the reservation goes on
--   with the jobs behind them (at most SKIP_MAX such entries per call).
--   Flow control: nothing is leased while the queue is paused, nor beyond its concurrency
--   limit (leased jobs, counted after the expired ones were recovered), nor beyond its rate
--   (starts in the window ending now); a job with a limit key is taken from its key's line
--   only while the key is under its limit and its rate (see lib.lua). next_in then also
--   counts the time until a held-back key or the queue's rate window comes free.
--   A job taken past its deadline (F_EXPIRES) is not leased: it ends as expired, kept
--   with the dead, within the same bounded slice; nor is a member of a paused batch: it
--   is parked until the batch is resumed (see lib.lua, "Paused batches"). A scheduled job
--   whose record cannot be read goes to dead with the reason, as the caller sends a ready
--   one it cannot read (finish's 'corrupt' outcome).
--
-- Everything that can fail (types, the counter's value) is checked before the first write:
-- Redis does not roll a script back.
--
-- Uses lib.lua: check_types, event, emit_events, batch_running, now_ms, set_ready_at,
--  load, bury_unreadable, store, wake, trim, recover_expired, flow_conf, group_relist,
--  group_delay, promote_delayed, make_ready, expired, expire_job, batch_paused, park.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'list' }, { KEYS[7], 'string' },
  { KEYS[9], 'zset' }, { KEYS[10], 'set' }, { KEYS[11], 'hash' } })
-- batch_active is only touched through pcall (a display counter).
if wrong then return wrong end
-- INCRBY's own rules: a decimal integer without leading zeros (and far from 2^63).
local seq = redis.call('GET', KEYS[7])
if seq and not ((seq == '0' or string.match(seq, '^[1-9]%d*$')) and #seq <= 15) then
  return redis.error_reply('ERR key ' .. KEYS[7] .. ' holds a non-number where the job framework keeps its fencing-token counter')
end

local jobs, ready, scheduled, leased, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local k = { jobs = jobs, ready = ready, leased = leased, dead = dead, tokens = KEYS[11], outbox = KEYS[9],
  cancel = KEYS[10], batch_active = KEYS[12], flow = KEYS[13], groups = KEYS[14], gactive = KEYS[15],
  group = KEYS[16], gdelayed = KEYS[17], rate = KEYS[18], krate = KEYS[19], bpaused = KEYS[20],
  parked = KEYS[21], tput = KEYS[22] }
local max, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local limits = { tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]) }
local now = now_ms()
local ev = {}
-- Ready entries without a record taken out per call, beyond the jobs asked for: bounds the
-- call however many such entries sit in line.
local SKIP_MAX = 100

local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local buried = 0
for i = 1, #due, 2 do
  local id = due[i]
  local rec, why = load(jobs, id)
  redis.call('ZREM', scheduled, id)
  if rec then
    set_ready_at(rec, tonumber(due[i + 1]))
    store(jobs, id, rec)
    make_ready(k, id, rec)
  elseif why == 'corrupt' then
    bury_unreadable(dead, id, now, ev)
    buried = buried + 1
  end
end
if buried > 0 then
  trim(jobs, dead, limits[1], now - limits[2], limits[3] + buried)
end
recover_expired(k, now, tonumber(ARGV[4]), tonumber(ARGV[5]), limits, ev)

local expires = now + lease_ms
-- Formatted once: Lua would format the number again for every ZADD.
local expires_arg = string.format('%d', expires)
local out = { 0, {}, expires, 0 }
local taken, budget = 0, max + SKIP_MAX
local token_args = {}

-- How many jobs this call may lease: none while paused, at most what the concurrency
-- limit leaves.
local conf = flow_conf(k)
local room = max
-- When the queue's rate window comes free again, if the rate is what stops it.
local rate_free_at = nil
if conf.paused then
  room = 0
else
  if conf.concurrency then
    room = math.min(room, conf.concurrency - redis.call('ZCARD', leased))
  end
  if conf.rate and room > 0 then
    redis.call('ZREMRANGEBYSCORE', k.rate, '-inf', now - conf.rate_ms)
    local left = conf.rate - redis.call('ZCARD', k.rate)
    if left <= 0 then
      local oldest = redis.call('ZRANGE', k.rate, 0, 0, 'WITHSCORES')
      rate_free_at = tonumber(oldest[2]) + conf.rate_ms
    end
    room = math.min(room, left)
  end
end
if conf.waiting > 0 then
  promote_delayed(k, now, tonumber(ARGV[3]))
end
-- Every start, for the rate windows: token, start time.
local starts = {}

-- Leases `popped` (ids already taken out of their line) with their records `raws` (nil
-- where missing: reported as skipped); returns the tokens given, by position.
-- A job past its deadline ends as expired instead (see expire_job). `recs`: records the
-- caller already decoded, by position.
local expired_n = 0
local function lease(popped, raws, recs)
  recs = recs or {}
  local found = 0
  for i = 1, #popped do
    local raw = raws[i]
    -- A first-run job outside any batch, with no limit key or deadline, is a 9-field
    -- array (0x99): only the others are unpacked, for their batch and deadline.
    if raw and not recs[i] and string.byte(raw, 1) ~= 0x99 then
      local ok, rec = pcall(cmsgpack.unpack, raw)
      if ok and type(rec) == 'table' then recs[i] = rec end
    end
    if recs[i] and expired(recs[i], now) then
      expire_job(jobs, dead, k.outbox, popped[i], recs[i], now, ev)
      expired_n = expired_n + 1
      recs[i] = 'held'
    elseif recs[i] and batch_paused(k, recs[i]) then
      park(k, popped[i], recs[i])
      recs[i] = 'held'
    elseif raw then
      found = found + 1
    end
  end
  local token = 0
  if found > 0 then
    token = redis.call('INCRBY', KEYS[7], found) - found
  end
  local lease_args, given = {}, {}
  for i, id in ipairs(popped) do
    local raw = raws[i]
    if recs[i] == 'held' then
      -- Expired or parked above.
    elseif raw then
      token = token + 1
      taken = taken + 1
      given[i] = token
      lease_args[#lease_args + 1] = expires_arg
      lease_args[#lease_args + 1] = id
      token_args[#token_args + 1] = id
      token_args[#token_args + 1] = token
      local n = #out
      out[n + 1] = id
      out[n + 2] = raw
      out[n + 3] = token
      if conf.rate then
        starts[#starts + 1] = now
        starts[#starts + 1] = token
      end
      event(ev, 'started', id)
      local rec = recs[i]
      if rec and type(rec[F_BATCH]) == 'string' then
        batch_running(k.batch_active, rec[F_BATCH], 1)
      end
    else
      table.insert(out[2], id)
    end
  end
  if #lease_args > 0 then
    redis.call('ZADD', leased, unpack(lease_args))
  end
  return given
end

-- Plain ready jobs: the first `n`, or those ahead of `bound` (a score) when a key's job
-- waits behind them.
local function take_plain(n, bound)
  local popped
  if bound then
    popped = redis.call('ZRANGEBYSCORE', ready, '-inf', '(' .. bound, 'LIMIT', 0, n)
    if #popped == 0 then return 0 end
    redis.call('ZREM', ready, unpack(popped))
  else
    -- ZRANGE + ZREMRANGEBYRANK rather than ZPOPMIN: the ready scores are not needed, and
    -- formatting them for the reply was a measurable share of the server's time.
    popped = redis.call('ZRANGE', ready, 0, n - 1)
    if #popped == 0 then return 0 end
    redis.call('ZREMRANGEBYRANK', ready, 0, #popped - 1)
  end
  budget = budget - #popped
  lease(popped, redis.call('HMGET', jobs, unpack(popped)))
  return #popped
end

-- One job from each of `keys` (listed keys, in their order), each counted as running
-- under its key; a key at its limit is unlisted, one whose rate is used up held back,
-- instead. Bounded: one step of the budget per key.
local function take_keyed(keys)
  local popped, key_of = {}, {}
  for _, key in ipairs(keys) do
    budget = budget - 1
    local open = true
    if conf.key_rate then
      local log = k.krate .. key
      redis.call('ZREMRANGEBYSCORE', log, '-inf', now - conf.key_rate_ms)
      if redis.call('ZCARD', log) >= conf.key_rate then
        local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
        group_delay(k, key, tonumber(oldest[2]) + conf.key_rate_ms)
        open = false
      end
    end
    if open then
      local active = redis.call('HINCRBY', k.gactive, key, 1)
      local line = k.group .. key
      local head = {}
      if conf.per_key and active > conf.per_key then
        -- Listed under a higher limit than the one set since.
        redis.call('HINCRBY', k.gactive, key, -1)
        redis.call('ZREM', k.groups, key)
      else
        head = redis.call('ZPOPMIN', line)
        if #head == 0 then
          -- Listed with nothing waiting (edited by hand): the slot goes back.
          group_release(k, key)
        end
      end
      if #head > 0 then
        popped[#popped + 1] = head[1]
        key_of[#popped] = key
        group_relist(k, key, active)
      end
    end
  end
  if #popped == 0 then return end
  redis.call('HINCRBY', k.flow, 'waiting', -#popped)
  local raws = redis.call('HMGET', jobs, unpack(popped))
  local recs = {}
  for i = 1, #popped do
    local raw = raws[i]
    if raw then
      local ok, rec = pcall(cmsgpack.unpack, raw)
      if ok and type(rec) == 'table' then recs[i] = rec end
    end
    if not raw or (recs[i] and (expired(recs[i], now) or batch_paused(k, recs[i]))) then
      -- Not started (gone, past its deadline, or its batch paused: lease ends or parks
      -- it): the slot goes back.
      group_release(k, key_of[i])
    end
  end
  local given = lease(popped, raws, recs)
  if conf.key_rate then
    for i, token in pairs(given) do
      local log = k.krate .. key_of[i]
      redis.call('ZADD', log, now, token)
      redis.call('PEXPIRE', log, conf.key_rate_ms)
    end
  end
end

if conf.waiting > 0 then
  -- Some jobs wait under a limit key: take from ready or from the listed keys, whichever
  -- comes first, many at a time: the ready jobs ahead of the first listed key, or one job
  -- from each listed key ahead of the first ready job.
  while taken < room and budget > 0 do
    local want = math.min(room - taken, budget)
    local listed = redis.call('ZRANGE', k.groups, 0, want - 1, 'WITHSCORES')
    if #listed == 0 then
      if take_plain(want) == 0 then break end
    else
      local head = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
      local bound = #head > 0 and tonumber(head[2]) or nil
      if bound and bound < tonumber(listed[2]) then
        take_plain(want, listed[2])
      else
        local keys = {}
        for i = 1, #listed, 2 do
          if bound and tonumber(listed[i + 1]) > bound then break end
          keys[#keys + 1] = listed[i]
        end
        take_keyed(keys)
      end
    end
  end
else
  while taken < room and budget > 0 do
    if take_plain(math.min(room - taken, budget)) == 0 then break end
  end
end
if #token_args > 0 then
  redis.call('HSET', KEYS[11], unpack(token_args))
end
if #starts > 0 then
  redis.call('ZADD', k.rate, unpack(starts))
  redis.call('PEXPIRE', k.rate, conf.rate_ms)
end
if expired_n > 0 then
  trim(jobs, dead, limits[1], now - limits[2], limits[3] + expired_n)
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
  local d = conf.waiting > 0 and redis.call('ZRANGE', k.gdelayed, 0, 0, 'WITHSCORES') or {}
  if #d > 0 and (next_due < 0 or tonumber(d[2]) < next_due) then next_due = tonumber(d[2]) end
  if rate_free_at and (next_due < 0 or rate_free_at < next_due) then next_due = rate_free_at end
  if next_due >= 0 then next_due = math.max(next_due - now, 0) end
  out[1] = next_due
else
  -- Wake another idle worker: if work is left, to take it; if not, so that it learns of
  -- the new lease end (from its own empty reservation) and is awake to recover the job
  -- should this worker die, instead of sleeping out its idle timeout.
  wake(KEYS[6])
end
return out
