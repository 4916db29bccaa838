-- Shared by every script: the loader (jobs-redis/src/scripts/prelude.rs) puts before each
-- script the declarations here that it uses, so each script stays one atomic transition
-- while the record format lives in one place. Keep every top-level declaration a line of
-- its own starting with `local ` (with its comments just above): that is how the loader
-- cuts this file.
--
-- A job is one field of the queue's `jobs` hash (field = job id, value = a msgpack
-- array, see F_* below; jobs-redis/src/record.rs reads the same format). Its state is which
-- sorted set holds it:
--   ready (score: priority band + ready time), scheduled (run-at), leased (member: the
--   id, score: lease end), succeeded and dead (finish time).
-- A leased job's fencing token is in the queue's `tokens` hash (id -> token), so the lease
-- of a job is found by its id in O(1) (job lookups cost the same however many run), and
-- the token check of renew/finish is one HMGET for the whole call.
-- Every key a script touches comes in through KEYS; none is built here.
--
-- The record is not written while a job runs: reserve only reads it and adds the lease,
-- so the hot path costs one HGET and one ZADD per job. The attempt and delivery a lease
-- stands for are counted into the record when the lease ends (finish or recover).

local F_NAME, F_PAYLOAD, F_PRIORITY, F_MAX_ATTEMPTS = 1, 2, 3, 4
local F_ATTEMPTS, F_DELIVERIES, F_STALLS, F_CREATED = 5, 6, 7, 8
-- Ready time as an offset from F_CREATED: 0 (one byte) for a job ready at once.
local F_READY_IN = 9
-- Set once a job has run; a waiting job's record stops at F_READY_IN (smaller).
local F_FINISHED, F_ERROR, F_RESULT = 10, 11, 12
-- The token of the delivery whose outcome was recorded last (absent until then).
local F_DONE = 13
-- The last progress a run reported: { percent, message } (absent until then).
local F_PROGRESS = 14
-- The batch the job belongs to (absent for most jobs).
local F_BATCH = 15
-- How it ended, when not by its own outcome: true once the application cancelled it,
-- 'expired' when it was still waiting at its deadline (kept with the dead, reported as
-- cancelled or expired).
local F_CANCELLED = 16
-- Its limit key (absent for most jobs): see "Flow control" below.
local F_KEY = 17
-- Its deadline, ms since the epoch (absent for most jobs): not started after it.
local F_EXPIRES = 18
local F_LAST = F_EXPIRES
-- CANCELLED, ATTEMPT_FAILED, LEASE_EXPIRED, STALLED_TEMPLATE and EXPIRED_TEMPLATE: the
-- reasons the store
-- gives, the same on every backend, are defined before this file by the loader
-- (src/scripts/mod.rs), from jobs-core's `reason` module.

-- Priorities -128..127 map to bands 2^42 ms (~139 years) apart: higher priority first,
-- then earlier ready time. The largest score stays below 2^53, exact in a double.
local PRIORITY_BAND = 4398046511104

-- Fails the script before it writes anything when a key holds another type than ours
-- (written by something else): a clear WRONGTYPE error instead of a half-applied change.
-- `expected` is a list of {key, type}.
local function check_types(expected)
  for _, e in ipairs(expected) do
    local actual = redis.call('TYPE', e[1])['ok']
    if actual ~= 'none' and actual ~= e[2] then
      return redis.error_reply(string.format(
        'WRONGTYPE key %s holds a %s where the job framework keeps a %s', e[1], actual, e[2]))
    end
  end
  return nil
end

-- Lifecycle events (jobs-core/src/store/event.rs): one entry of the queue's events stream per
-- script call and kind, holding `k` = kind then (job id, data) pairs. Collected in a table
-- during the call (`ev[kind]` = flat pairs) and appended at its end by emit_events, in
-- this order, so a job's `failed` precedes its `retrying` or `dead`.
local EVENT_ORDER = { 'enqueued', 'started', 'progress', 'succeeded', 'failed', 'retrying', 'dead',
  'cancelled' }

local function event(ev, kind, id, data)
  local pairs = ev[kind]
  if not pairs then
    pairs = {}
    ev[kind] = pairs
  end
  pairs[#pairs + 1] = id
  pairs[#pairs + 1] = data or ''
end

-- max_len 0: events are off. Appended last and never fatal: Redis does not roll back a
-- script, so a stream that refuses the entry (at its last possible id, say) must not fail
-- the transition already written; the lost events are logged on the server.
-- (So no script checks the stream's type up front: a wrong one only loses events.)
local function emit_events(key, max_len, ev)
  if max_len <= 0 then return end
  for _, kind in ipairs(EVENT_ORDER) do
    local pairs = ev[kind]
    if pairs then
      local r = redis.pcall('XADD', key, 'MAXLEN', '~', max_len, '*', 'k', kind, unpack(pairs))
      if type(r) == 'table' and r.err then
        redis.log(redis.LOG_WARNING, 'jobs: events not recorded in ' .. key .. ': ' .. r.err)
      end
    end
  end
end

-- How many members of each batch are leased right now, per queue (`batch_active` hash:
-- batch id -> count), so a batch's status reads one field per queue instead of every
-- member. Display only: a counter someone broke (a non-number) must not fail the
-- transition, hence pcall.
local function batch_running(active, batch, delta)
  if not batch or batch == '' or batch == false then return end
  local n = redis.pcall('HINCRBY', active, batch, delta)
  if type(n) == 'number' and n <= 0 then
    redis.pcall('HDEL', active, batch)
  end
end

-- Batches (jobs-core/src/store/batch.rs). A member's final ending (succeeded or dead) is
-- written to its queue's outbox (a sorted set scored by when the entry is due) in the same
-- step; the caller then counts it in the batch (batch_done.lua), whose keys may live on
-- another cluster node. The rest of the batch logic is in batch_lib.lua.
local function batch_ended(outbox, batch, id, succeeded, now)
  if batch and batch ~= '' and batch ~= false then
    redis.call('ZADD', outbox, now, batch .. ' ' .. id .. ' ' .. (succeeded and 's' or 'd'))
  end
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Throughput: attempts that ended, per minute (minute = server ms / 60000), in one hash
-- per queue: `s<minute>` succeeded, `f<minute>` failed, `x<minute>` leases that expired
-- and were recovered (stalls). A minute's first count drops the
-- fields older than an hour (at most about 120 names read, once a minute), so the hash
-- stays small whatever the traffic. Best effort, through redis.pcall: the counts run
-- last, and a key someone broke must not fail the transition already written.
local function count_minute(tput, now, ok, failed, stalled)
  local minute = math.floor(now / 60000)
  local fresh = false
  -- Written out, not looped over a table: this runs on every finish call.
  if ok > 0 then
    local total = redis.pcall('HINCRBY', tput, 's' .. minute, ok)
    if type(total) ~= 'number' then return end
    fresh = total == ok
  end
  if failed > 0 then
    local total = redis.pcall('HINCRBY', tput, 'f' .. minute, failed)
    if type(total) ~= 'number' then return end
    fresh = fresh or total == failed
  end
  if stalled and stalled > 0 then
    local total = redis.pcall('HINCRBY', tput, 'x' .. minute, stalled)
    if type(total) ~= 'number' then return end
    fresh = fresh or total == stalled
  end
  if fresh then
    local old = {}
    for _, f in ipairs(redis.call('HKEYS', tput)) do
      local m = tonumber(string.sub(f, 2))
      if not m or m <= minute - 60 then old[#old + 1] = f end
    end
    if #old > 0 then redis.call('HDEL', tput, unpack(old)) end
  end
end

local function ready_at(rec)
  return rec[F_CREATED] + rec[F_READY_IN]
end

local function set_ready_at(rec, t)
  rec[F_READY_IN] = t - rec[F_CREATED]
end

local function ready_score(rec)
  return (127 - rec[F_PRIORITY]) * PRIORITY_BAND + ready_at(rec)
end

-- The current tokens of leased ids (one HMGET), as numbers (nil where not leased).
local function lease_tokens(tokens, ids)
  local out = {}
  if #ids == 0 then return out end
  local raw = redis.call('HMGET', tokens, unpack(ids))
  for i = 1, #ids do
    out[i] = tonumber(raw[i])
  end
  return out
end

-- The fields every script reads as numbers; a record lacking one is treated as corrupt
-- before anything is written, instead of raising half-way through a transition.
local NUMERIC = { F_PRIORITY, F_MAX_ATTEMPTS, F_ATTEMPTS, F_DELIVERIES, F_STALLS, F_CREATED, F_READY_IN }

-- The record, or nil and a reason when it is missing or not ours (edited by hand):
-- 'missing', or 'corrupt' for one that is not a msgpack array with our fields.
local function load(jobs, id)
  local raw = redis.call('HGET', jobs, id)
  if not raw then
    return nil, 'missing'
  end
  local ok, rec = pcall(cmsgpack.unpack, raw)
  if not ok or type(rec) ~= 'table' or type(rec[F_NAME]) ~= 'string' or type(rec[F_PAYLOAD]) ~= 'string' then
    return nil, 'corrupt'
  end
  for _, f in ipairs(NUMERIC) do
    local x = rec[f]
    -- NaN and infinities too: a sorted-set score made from one is refused after the
    -- transition began.
    if type(x) ~= 'number' or x ~= x or x == math.huge or x == -math.huge then
      return nil, 'corrupt'
    end
  end
  return rec
end

-- The batch and limit key of a job whose record `load` refused, if the record still
-- says: so that a member ending in dead for an unreadable record is counted in its batch
-- all the same, and the slot it held under its key is given back.
local function batch_of_unreadable(jobs, id)
  local raw = redis.call('HGET', jobs, id)
  if not raw then return nil end
  local ok, rec = pcall(cmsgpack.unpack, raw)
  if ok and type(rec) == 'table' then
    local batch = type(rec[F_BATCH]) == 'string' and rec[F_BATCH] or nil
    local key = type(rec[F_KEY]) == 'string' and rec[F_KEY] or nil
    return batch, key
  end
  return nil
end

-- The reason kept with a job whose record cannot be read.
local UNREADABLE = 'the job record cannot be read (not written by this framework?)'

-- Moves a job whose record cannot be read to dead, as it is (nothing to rewrite).
local function bury_unreadable(dead, id, now, ev)
  redis.call('ZADD', dead, now, id)
  event(ev, 'dead', id, UNREADABLE)
end

-- Flow control. A queue's `flow` hash holds its settings and one count:
--   paused ('1' while paused), concurrency (at most this many leased), per_key (at most
--   this many leased per limit key), rate and rate_ms (at most `rate` starts in any
--   `rate_ms`), key_rate and key_rate_ms (the same per limit key), waiting (ready jobs
--   waiting under a key).
-- A ready job with a limit key waits in its key's own line (the sorted set `group` ..
-- key, scored like ready), not in ready. `gactive` counts the leased jobs of each key;
-- `groups` lists the keys that have a waiting job and a free slot, scored by their first
-- job, so a reservation takes the first of ready or of groups' first key, whichever comes
-- first, and a key at its limit is not looked at however many jobs wait under it.
-- Invariant: a key is in `groups` exactly when its line is not empty, its leased count
-- is under per_key (or per_key is unset) and it is not held back (in `gdelayed`, until
-- a time: its rate used up, or a job said it was rate limited); every step that changes
-- one of these re-lists it. Rates are sliding windows: `rate` (the queue's) and `krate`
-- .. key (each key's) hold the fencing tokens of recent starts by start time.
-- `k` holds the keys (flow, groups, gactive, group, gdelayed, rate, krate) and caches the
-- settings (k.conf).

-- The queue's flow settings, read once per call.
local function flow_conf(k)
  if not k.conf then
    local f = redis.call('HMGET', k.flow, 'paused', 'concurrency', 'per_key', 'waiting', 'rate',
      'rate_ms', 'key_rate', 'key_rate_ms')
    k.conf = { paused = f[1] == '1', concurrency = tonumber(f[2]), per_key = tonumber(f[3]),
      waiting = tonumber(f[4]) or 0, rate = tonumber(f[5]), rate_ms = tonumber(f[6]),
      key_rate = tonumber(f[7]), key_rate_ms = tonumber(f[8]) }
    if not (k.conf.rate and k.conf.rate_ms) then k.conf.rate = nil end
    if not (k.conf.key_rate and k.conf.key_rate_ms) then k.conf.key_rate = nil end
  end
  return k.conf
end

-- True when `key` is held back. Most queues hold none back: whether any is, is read
-- once per call.
local function held_back(k, key)
  if k.any_delayed == nil then
    k.any_delayed = redis.call('EXISTS', k.gdelayed) == 1
  end
  return k.any_delayed and redis.call('ZSCORE', k.gdelayed, key) ~= false
end

-- Lists `key` in groups under its first job when it has one and a free slot, and is not
-- held back; unlists it otherwise. `active`: its leased count if the caller has it.
-- True when it is listed.
local function group_relist(k, key, active)
  if held_back(k, key) then
    redis.call('ZREM', k.groups, key)
    return false
  end
  local per_key = flow_conf(k).per_key
  if per_key then
    active = active or tonumber(redis.call('HGET', k.gactive, key)) or 0
    if active >= per_key then
      redis.call('ZREM', k.groups, key)
      return false
    end
  end
  local head = redis.call('ZRANGE', k.group .. key, 0, 0, 'WITHSCORES')
  if #head > 0 then
    redis.call('ZADD', k.groups, head[2], key)
    return true
  end
  redis.call('ZREM', k.groups, key)
  return false
end

-- Puts a ready job in its key's line.
local function group_push(k, key, id, score)
  local conf = flow_conf(k)
  if redis.call('ZADD', k.group .. key, score, id) == 1 then
    conf.waiting = redis.call('HINCRBY', k.flow, 'waiting', 1)
  end
  local per_key = conf.per_key
  if per_key and (tonumber(redis.call('HGET', k.gactive, key)) or 0) >= per_key then
    return
  end
  if held_back(k, key) then return end
  -- LT: the key's first job is this one only if it comes first.
  redis.call('ZADD', k.groups, 'LT', score, key)
end

-- Takes a waiting job out of its key's line (cancelled); true if it was there.
local function group_remove(k, key, id)
  if redis.call('ZREM', k.group .. key, id) == 0 then return false end
  redis.call('HINCRBY', k.flow, 'waiting', -1)
  group_relist(k, key)
  return true
end

-- A leased job of `key` stopped running: its slot is free; true if the key has a job
-- that may start now (the caller wakes a worker).
local function group_release(k, key)
  if type(key) ~= 'string' or key == '' then return false end
  local active = redis.call('HINCRBY', k.gactive, key, -1)
  if active <= 0 then
    redis.call('HDEL', k.gactive, key)
    active = 0
  end
  return group_relist(k, key, active)
end

-- Holds `key` back until `at` (ms): its jobs wait, the others go on.
local function group_delay(k, key, at)
  local current = redis.call('ZSCORE', k.gdelayed, key)
  if current and tonumber(current) >= at then return end
  redis.call('ZADD', k.gdelayed, at, key)
  redis.call('ZREM', k.groups, key)
  k.any_delayed = true
end

-- Lets keys held back until `now` or earlier run again (at most `limit` of them).
local function promote_delayed(k, now, limit)
  local due = redis.call('ZRANGEBYSCORE', k.gdelayed, '-inf', now, 'LIMIT', 0, limit)
  if #due > 0 then
    redis.call('ZREM', k.gdelayed, unpack(due))
    for _, key in ipairs(due) do
      group_relist(k, key)
    end
  end
end

-- Paused batches. A reservation that meets a ready member of a batch in `bpaused` parks
-- it (the sorted set `parked` .. batch, scored like ready; counted in flow's `parked`)
-- instead of leasing it, so it is met once however long the batch stays paused; resuming
-- puts the parked members back in line (set_batch_pause.lua).

-- True when job `rec`'s batch is paused (whether any is, read once per call).
local function batch_paused(k, rec)
  local batch = rec[F_BATCH]
  if type(batch) ~= 'string' then return false end
  if k.any_bpaused == nil then
    k.any_bpaused = redis.call('EXISTS', k.bpaused) == 1
  end
  return k.any_bpaused and redis.call('SISMEMBER', k.bpaused, batch) == 1
end

-- Parks a ready member of a paused batch (already out of its line).
local function park(k, id, rec)
  redis.call('ZADD', k.parked .. rec[F_BATCH], ready_score(rec), id)
  redis.call('HINCRBY', k.flow, 'parked', 1)
end

-- Takes a waiting job out of its line (ready, its key's, or its paused batch's parked
-- members); true if it was in one.
local function unlink_ready(k, id, rec)
  if redis.call('ZREM', k.ready, id) == 1 then return true end
  if type(rec[F_KEY]) == 'string' and group_remove(k, rec[F_KEY], id) then return true end
  if type(rec[F_BATCH]) == 'string' and redis.call('ZREM', k.parked .. rec[F_BATCH], id) == 1 then
    redis.call('HINCRBY', k.flow, 'parked', -1)
    return true
  end
  return false
end

-- Puts a job that is due in line: its key's if it has one, else ready.
local function make_ready(k, id, rec)
  local score = ready_score(rec)
  local key = rec[F_KEY]
  if type(key) == 'string' then
    group_push(k, key, id, score)
  else
    redis.call('ZADD', k.ready, score, id)
  end
end

-- An instant as callers give it: '' now, '+N' N ms from now, 'N' at N ms since the epoch.
local function instant(arg, now)
  if arg == '' then return now end
  if string.sub(arg, 1, 1) == '+' then return now + tonumber(string.sub(arg, 2)) end
  return tonumber(arg)
end

-- A new job from the 9 arguments the enqueue scripts take per job, from args[base]: id,
-- name, payload, priority (-128..127), max_attempts, run_at (an instant), batch id, limit
-- key, deadline (an instant; '' for none: each optional field '' when unset). Returns
-- the id, the record (a waiting job's: nothing after the ready time but the optional
-- fields that are set, see above) and when it is due.
local function new_job(args, base, now)
  local due = instant(args[base + 5], now)
  local rec = {
    args[base + 1], args[base + 2], tonumber(args[base + 3]), tonumber(args[base + 4]),
    0, 0, 0, now, due - now,
  }
  local batch, key, deadline = args[base + 6], args[base + 7], args[base + 8]
  -- Optional fields, each only when set (the gaps before the last filled with false).
  local last = (deadline ~= '' and F_EXPIRES) or (key ~= '' and F_KEY) or (batch ~= '' and F_BATCH)
  if last then
    for f = F_FINISHED, last do rec[f] = false end
    if batch ~= '' then rec[F_BATCH] = batch end
    if key ~= '' then rec[F_KEY] = key end
    if deadline ~= '' then rec[F_EXPIRES] = instant(deadline, now) end
  end
  return args[base], rec, due
end

-- Puts a job (its record stored, in no line yet) in line if due, else in scheduled.
local function place_new(k, id, rec, due, now)
  if due <= now then
    make_ready(k, id, rec)
  else
    redis.call('ZADD', k.scheduled, due, id)
  end
end

-- Fields after F_READY_IN are optional; a gap before a set one is filled with false so
-- the record stays a msgpack array.
local function store(jobs, id, rec)
  for i = F_LAST, F_FINISHED, -1 do
    if rec[i] ~= nil then
      for j = F_FINISHED, i - 1 do
        if rec[j] == nil then rec[j] = false end
      end
      break
    end
  end
  redis.call('HSET', jobs, id, cmsgpack.pack(rec))
end

-- Wakes one blocked worker. The list holds at most one token: a woken worker that leaves
-- work behind wakes the next (see reserve.lua), so one token is enough.
local function wake(wake_key)
  redis.call('LPUSH', wake_key, '1')
  redis.call('LTRIM', wake_key, 0, 0)
end

-- Puts an unlinked job in line (if due) or in scheduled, and stores the record. Callers
-- wake a worker either way: a sleeping worker must learn of a new earliest run-at.
local function schedule(k, id, rec, due, now)
  set_ready_at(rec, due)
  store(k.jobs, id, rec)
  place_new(k, id, rec, due, now)
end

-- Deletes the oldest entries of a finished set beyond `max`, and those finished before
-- `cutoff`: at most `budget` of each, in a few commands whatever the count. Callers trim
-- once per call, after their loop, with a budget that covers what they added.
local function trim(jobs, set, max, cutoff, budget)
  -- `unpack` takes at most a few thousand values: never more than this per call.
  budget = math.min(budget, 2000)
  local excess = math.min(redis.call('ZCARD', set) - max, budget)
  if excess > 0 then
    -- Records first: an error after this leaves ids without records (skipped later),
    -- never records without ids.
    local ids = redis.call('ZRANGE', set, 0, excess - 1)
    redis.call('HDEL', jobs, unpack(ids))
    redis.call('ZREMRANGEBYRANK', set, 0, excess - 1)
  end
  local old = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. cutoff, 'LIMIT', 0, budget)
  if #old > 0 then
    redis.call('HDEL', jobs, unpack(old))
    redis.call('ZREM', set, unpack(old))
  end
end

-- Moves an unlinked job to dead with `reason`. The caller trims the dead set.
local function bury(jobs, dead, id, rec, reason, now)
  rec[F_FINISHED] = now
  if reason then
    rec[F_ERROR] = reason
  end
  store(jobs, id, rec)
  redis.call('ZADD', dead, now, id)
end

-- Ends an unlinked job as cancelled: kept with the dead. The caller trims the dead set.
local function cancel_job(jobs, dead, id, rec, now, ev, outbox)
  rec[F_CANCELLED] = true
  bury(jobs, dead, id, rec, CANCELLED, now)
  event(ev, 'cancelled', id)
  batch_ended(outbox, rec[F_BATCH], id, false, now)
end

-- Ends a job (unlinked, its record read) that was still waiting at its deadline: kept
-- with the dead, as expired, and counted as dead in its batch. The caller trims the dead
-- set.
local function expire_job(jobs, dead, outbox, id, rec, now, ev)
  local reason = string.format(EXPIRED_TEMPLATE, rec[F_EXPIRES])
  rec[F_CANCELLED] = 'expired'
  bury(jobs, dead, id, rec, reason, now)
  event(ev, 'dead', id, reason)
  batch_ended(outbox, rec[F_BATCH], id, false, now)
end

-- How a job kept with the dead ended: 'cancelled', 'expired' or 'dead'.
local function ended_as(rec)
  local how = rec[F_CANCELLED]
  if how == true then return 'cancelled' end
  if how == 'expired' then return 'expired' end
  return 'dead'
end

-- True when a job's deadline passed.
local function expired(rec, now)
  local at = rec[F_EXPIRES]
  return type(at) == 'number' and at < now
end

-- Returns jobs whose lease ended before `now` to ready, or to dead once they stalled
-- `max_stalls` times or were on their last attempt. At most `limit` per call.
-- `k` = { jobs, ready, leased, dead, tokens, outbox, cancel, batch_active, tput, and the
-- flow keys }. Returns also whether a key got a free slot for a waiting job.
-- `limits` = {dead_max, dead_max_age_ms, trim budget}.
local function recover_expired(k, now, limit, max_stalls, limits, ev)
  local jobs, ready, leased, dead = k.jobs, k.ready, k.leased, k.dead
  local requeued, buried, freed = 0, 0, false
  local expired = redis.call('ZRANGEBYSCORE', leased, '-inf', now, 'LIMIT', 0, limit)
  if #expired == 0 then return 0, 0, false end
  for _, id in ipairs(expired) do
    local rec, why = load(jobs, id)
    redis.call('ZREM', leased, id)
    if why == 'corrupt' then
      -- Kept for inspection, as reserve does with a corrupt ready record.
      local batch, key = batch_of_unreadable(jobs, id)
      batch_running(k.batch_active, batch, -1)
      freed = group_release(k, key) or freed
      bury_unreadable(dead, id, now, ev)
      batch_ended(k.outbox, batch, id, false, now)
      buried = buried + 1
    end
    if rec then
      batch_running(k.batch_active, rec[F_BATCH], -1)
      freed = group_release(k, rec[F_KEY]) or freed
      -- The lost delivery used an attempt.
      rec[F_ATTEMPTS] = rec[F_ATTEMPTS] + 1
      rec[F_DELIVERIES] = rec[F_DELIVERIES] + 1
      rec[F_STALLS] = rec[F_STALLS] + 1
      if redis.call('SREM', k.cancel, id) == 1 then
        cancel_job(jobs, dead, id, rec, now, ev, k.outbox)
        buried = buried + 1
      elseif rec[F_STALLS] >= max_stalls or rec[F_ATTEMPTS] >= rec[F_MAX_ATTEMPTS] then
        local reason = string.format(STALLED_TEMPLATE,
          rec[F_STALLS], rec[F_ATTEMPTS], rec[F_MAX_ATTEMPTS])
        bury(jobs, dead, id, rec, reason, now)
        event(ev, 'dead', id, reason)
        batch_ended(k.outbox, rec[F_BATCH], id, false, now)
        buried = buried + 1
      else
        -- Back to its old place in line, not behind everything enqueued since.
        store(jobs, id, rec)
        make_ready(k, id, rec)
        event(ev, 'retrying', id, LEASE_EXPIRED)
        requeued = requeued + 1
      end
    end
  end
  redis.call('HDEL', k.tokens, unpack(expired))
  if buried > 0 then
    trim(jobs, dead, limits[1], now - limits[2], limits[3] + buried)
  end
  count_minute(k.tput, now, 0, 0, #expired)
  return requeued, buried, freed
end
