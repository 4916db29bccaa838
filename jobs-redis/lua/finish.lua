-- finish: end leases with their outcomes.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased
-- KEYS[5] succeeded  KEYS[6] dead  KEYS[7] wake  KEYS[8] events
-- KEYS[9] outbox (zset: batch work by due time)  KEYS[10] cancel (set)
-- KEYS[11] tokens (hash: leased id -> token)  KEYS[12] batch_active (hash)
-- KEYS[13] flow  KEYS[14] groups  KEYS[15] gactive  KEYS[16] group  KEYS[17] gdelayed
-- (see lib.lua, "Flow control")  KEYS[18] tput (per-minute counts, lib.lua's count_minute)
-- ARGV[1] succeeded max   ARGV[2] succeeded max age ms
-- ARGV[3] dead max        ARGV[4] dead max age ms   ARGV[5] trim batch
-- ARGV[6] events max length (0: off)
-- then 7 per item: id, token, kind, data, delay_ms, batch id ('' for none), limit key
--   ('' for none)
--   kind 'ok':      succeeded; data = serialized result ('' for none)
--   kind 'fail':    data = error chain; delay_ms = retry delay, '' for no retry. Dead when
--                   there is no retry or the job used all its attempts.
--   kind 'snooze':  scheduled again after delay_ms; the attempt is given back
--   kind 'limited': as 'snooze', and the job's limit key is held back as long (see
--                   lib.lua, "Flow control")
--   kind 'release': ready again at its old place in line; the attempt is given back
--   kind 'corrupt': the caller could not use the job (its record or its id cannot be
--                   read): dead with data as the reason (the record kept as it is when
--                   the script cannot read it either)
--
-- Returns: one status per item (src/scripts/finish.rs reads them as LeaseStatus):
--   HELD  the lease end it was held under (> 0): the outcome is recorded;
--   STALE = 0: the token is stale;
--   DONE  = -1: this delivery's outcome was already recorded (a retried call whose first
--         answer was lost) or the job is no longer stored.
-- Nothing is changed for STALE and DONE.
-- Then one more: the outbox entries due when an item belonged to a batch (else 0), so the
-- caller drains the outbox only when something is in it.
--
-- Every record an item needs is read and checked before that item changes anything, so
-- a record someone broke ends its own job in dead and never fails its neighbours.
-- A lease that ends gives back its slot under its limit key; a worker is woken when that
-- lets a waiting job start, or when the queue has a concurrency limit.
--
-- Uses lib.lua: check_types, event, emit_events, batch_running, batch_ended, now_ms,
--  ready_at, lease_tokens, load, batch_of_unreadable, bury_unreadable, store, wake,
--  schedule, trim, bury, cancel_job, flow_conf, group_release, group_delay, count_minute.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'zset' }, { KEYS[7], 'list' },
  { KEYS[9], 'zset' }, { KEYS[10], 'set' } })
-- tokens needs no check: its first access is a read (HMGET) before any write, so a wrong
-- type fails the call with nothing written. batch_active is only touched through pcall.
if wrong then return wrong end

local jobs, ready, scheduled, leased = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local succeeded, dead, tokens = KEYS[5], KEYS[6], KEYS[11]
local trim_budget = tonumber(ARGV[5])
local now = now_ms()
local out, woke = {}, false
local added, buried = 0, 0
local n_ok, n_failed = 0, 0
local keep_none = tonumber(ARGV[1]) == 0
local ev = {}

local k = { jobs = jobs, ready = ready, scheduled = scheduled, flow = KEYS[13], groups = KEYS[14],
  gactive = KEYS[15], group = KEYS[16], gdelayed = KEYS[17] }
local outbox = KEYS[9]
local any_batch = false
-- A job the application cancelled while it ran ends as cancelled unless it succeeded.
local cancels = redis.call('SCARD', KEYS[10]) > 0
local ids = {}
for i = 7, #ARGV, 7 do ids[#ids + 1] = ARGV[i] end
local current = lease_tokens(tokens, ids)
local ended = {}
for n, id in ipairs(ids) do
  local i = 7 + (n - 1) * 7
  local token, kind = tonumber(ARGV[i + 1]), ARGV[i + 2]
  local data, delay, batch_id = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local key = ARGV[i + 6]
  if batch_id ~= '' then any_batch = true end
  local held = current[n] == token and redis.call('ZSCORE', leased, id)
  if not held then
    -- Rare: read the record only to tell a repeated call from a stale token.
    local rec, why = load(jobs, id)
    if why == 'missing' or (rec and rec[F_DONE] == token) then
      out[#out + 1] = -1
    else
      out[#out + 1] = 0
    end
  else
    out[#out + 1] = tonumber(held)
    local cancelled = cancels and redis.call('SISMEMBER', KEYS[10], id) == 1
    -- Reads first: nothing of this item is written before its record proved readable.
    local rec, why = nil, nil
    if not (kind == 'ok' and keep_none and not cancelled) then
      rec, why = load(jobs, id)
    end
    -- The batch reserve counted this lease under: the record's (the caller's copy is
    -- empty when it could not read the record).
    local batch = batch_id
    if batch == '' or key == '' then
      local rec_batch, rec_key = nil, nil
      if rec then
        rec_batch, rec_key = rec[F_BATCH], rec[F_KEY]
      elseif why == 'corrupt' then
        rec_batch, rec_key = batch_of_unreadable(jobs, id)
      end
      if batch == '' then batch = rec_batch end
      if key == '' then key = rec_key end
    end
    redis.call('ZREM', leased, id)
    ended[#ended + 1] = id
    current[n] = nil
    batch_running(KEYS[12], batch, -1)
    if group_release(k, key) then woke = true end
    if cancelled then redis.call('SREM', KEYS[10], id) end
    if why then
      -- Unreadable (or deleted by hand): kept in dead for inspection when there is
      -- anything to keep, and counted in its batch.
      if why == 'corrupt' then
        n_failed = n_failed + 1
        bury_unreadable(dead, id, now, ev)
        batch_ended(outbox, batch, id, false, now)
        buried = buried + 1
      end
    elseif kind == 'ok' and keep_none and not cancelled then
      -- Nothing of succeeded jobs is kept: delete the record, never read it.
      redis.call('HDEL', jobs, id)
      event(ev, 'succeeded', id)
      batch_ended(outbox, batch_id, id, true, now)
      n_ok = n_ok + 1
    else
      -- This delivery ends now: count it (reserve did not write the record).
      rec[F_DONE] = token
      rec[F_DELIVERIES] = rec[F_DELIVERIES] + 1
      if cancelled and kind ~= 'ok' then
        rec[F_ATTEMPTS] = rec[F_ATTEMPTS] + 1
        cancel_job(jobs, dead, id, rec, now, ev, outbox)
        buried = buried + 1
      elseif kind == 'ok' then
        rec[F_ATTEMPTS] = rec[F_ATTEMPTS] + 1
        rec[F_FINISHED] = now
        rec[F_RESULT] = data ~= '' and data or false
        store(jobs, id, rec)
        redis.call('ZADD', succeeded, now, id)
        event(ev, 'succeeded', id)
        batch_ended(outbox, batch_id, id, true, now)
        added = added + 1
        n_ok = n_ok + 1
      elseif kind == 'corrupt' then
        -- The script can read the record but the caller could not use the job.
        bury(jobs, dead, id, rec, data, now)
        n_failed = n_failed + 1
        event(ev, 'dead', id, data)
        batch_ended(outbox, batch, id, false, now)
        buried = buried + 1
      elseif kind == 'fail' then
        rec[F_ATTEMPTS] = rec[F_ATTEMPTS] + 1
        rec[F_ERROR] = data
        n_failed = n_failed + 1
        event(ev, 'failed', id, data)
        if delay ~= '' and rec[F_ATTEMPTS] < rec[F_MAX_ATTEMPTS] then
          schedule(k, id, rec, now + tonumber(delay), now)
          event(ev, 'retrying', id, ATTEMPT_FAILED)
          woke = true
        else
          bury(jobs, dead, id, rec, nil, now)
          event(ev, 'dead', id, data)
          batch_ended(outbox, batch_id, id, false, now)
          buried = buried + 1
        end
      elseif kind == 'snooze' or kind == 'limited' then
        -- The attempt is given back: not counted.
        if kind == 'limited' and type(rec[F_KEY]) == 'string' then
          group_delay(k, rec[F_KEY], now + tonumber(delay))
        end
        schedule(k, id, rec, now + tonumber(delay), now)
        woke = true
      else -- release
        schedule(k, id, rec, math.min(ready_at(rec), now), now)
        woke = true
      end
    end
  end
end
if #ended > 0 then
  redis.call('HDEL', tokens, unpack(ended))
end
emit_events(KEYS[8], tonumber(ARGV[6]), ev)
count_minute(KEYS[18], now, n_ok, n_failed)
-- Retention, once per call, with a budget covering what this call added.
if added > 0 or keep_none then
  trim(jobs, succeeded, tonumber(ARGV[1]), now - tonumber(ARGV[2]), trim_budget + added)
end
if buried > 0 then
  trim(jobs, dead, tonumber(ARGV[3]), now - tonumber(ARGV[4]), trim_budget + buried)
end
-- A slot under the queue's concurrency limit is free: a worker held back may go on.
if not woke and #ended > 0 and flow_conf(k).concurrency
  and (redis.call('ZCARD', ready) > 0 or redis.call('ZCARD', k.groups) > 0) then
  woke = true
end
if woke then
  wake(KEYS[7])
end
out[#out + 1] = any_batch and redis.call('ZCOUNT', outbox, '-inf', now) or 0
return out
