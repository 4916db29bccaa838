-- enqueue_unique: store new jobs that may carry a uniqueness key, each checked against
-- the key's holder in the same step as its insert (so two processes never both store a
-- job for one key).
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] wake  KEYS[5] events
-- KEYS[6] flow  KEYS[7] groups  KEYS[8] gactive  KEYS[9] group  KEYS[10] gdelayed (see
-- lib.lua, "Flow control")
-- KEYS[11] unique    hash: uniqueness key -> 'id|hold|until' (hold: w = while waiting,
--                    r = until it ends, p = until `until`, ms since the epoch)
-- KEYS[12] leased  KEYS[13] succeeded  KEYS[14] dead  KEYS[15] outbox
-- KEYS[16] parked (see lib.lua, "Paused batches")
-- ARGV[1] number of jobs, ARGV[2] events max length (0: off), ARGV[3] dead max,
-- ARGV[4] dead max age ms, ARGV[5] trim batch, then 12 per job: the 9 of enqueue.lua
--   (see new_job in lib.lua), uniqueness key ('' for none), hold (w, r, p), period ms,
--   on conflict ('reject', 'replace', 'debounce')
--
-- Returns: per job, { answer, id }: 'stored' (id: the job's), 'exists' (a job with its
-- id is stored: nothing changed), 'duplicate' (the key is held by job id: not stored),
-- 'debounced' (the key's holder id stays, now due at this job's run-at: not stored),
-- 'replaced' (stored; the holder id, which was waiting, is cancelled). Then the outbox
-- entries due (a replaced job may have been a batch member).
--
-- A claim is checked when its key is claimed again (a job that no longer holds its key
-- leaves a stale claim, replaced then); each call also drops up to SWEEP stale claims
-- found by a cursor kept in flow's `ucursor`, so claims do not outlive their jobs for
-- long.
--
-- Uses lib.lua: check_types, event, emit_events, now_ms, wake, trim, load, schedule,
--  cancel_job, unlink_ready, new_job, place_new.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' },
  { KEYS[11], 'hash' }, { KEYS[12], 'zset' }, { KEYS[13], 'zset' }, { KEYS[14], 'zset' }, { KEYS[15], 'zset' } })
if wrong then return wrong end

local SWEEP = 10
local jobs, ready, scheduled, unique = KEYS[1], KEYS[2], KEYS[3], KEYS[11]
local leased, succeeded, dead, outbox = KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local k = { jobs = jobs, ready = ready, scheduled = scheduled, flow = KEYS[6], groups = KEYS[7],
  gactive = KEYS[8], group = KEYS[9], gdelayed = KEYS[10], parked = KEYS[16] }
local now = now_ms()
local ev, out = {}, {}
local stored, buried = 0, 0

-- The holder of a claim, if it still holds: its id, and whether it still waits.
local function holder(claim)
  if not claim then return nil end
  local id, hold, till = string.match(claim, '^(.-)|(%a)|(%d+)$')
  if not id then return nil end
  local exists = redis.call('HEXISTS', jobs, id) == 1
  local running = exists and redis.call('ZSCORE', leased, id) ~= false
  local ended = exists and not running
    and (redis.call('ZSCORE', succeeded, id) or redis.call('ZSCORE', dead, id)) ~= false
  local waiting = exists and not running and not ended
  local holds
  if hold == 'w' then
    holds = waiting
  elseif hold == 'r' then
    holds = waiting or running
  else
    holds = tonumber(till) > now
  end
  if holds then return id, waiting end
  return nil
end

-- Takes a waiting job out of its line or of scheduled; its record.
local function unlink_waiting(id)
  local rec = load(jobs, id)
  if not rec then return nil end
  if unlink_ready(k, id, rec) or redis.call('ZREM', scheduled, id) == 1 then
    return rec
  end
  return nil
end

for i = 0, tonumber(ARGV[1]) - 1 do
  local base = 6 + i * 12
  local id, rec, due = new_job(ARGV, base, now)
  local ukey, hold, period, on_conflict = ARGV[base + 9], ARGV[base + 10], ARGV[base + 11], ARGV[base + 12]
  local answer, other = 'stored', id
  if redis.call('HEXISTS', jobs, id) == 1 then
    answer = 'exists'
  elseif ukey ~= '' then
    local existing, waiting = holder(redis.call('HGET', unique, ukey))
    if existing then
      other = existing
      if waiting and on_conflict == 'replace' then
        local old = unlink_waiting(existing)
        if old then
          cancel_job(jobs, dead, existing, old, now, ev, outbox)
          buried = buried + 1
        end
        answer = 'replaced'
      elseif waiting and on_conflict == 'debounce' then
        local old = unlink_waiting(existing)
        if old then schedule(k, existing, old, due, now) end
        answer = 'debounced'
      else
        answer = 'duplicate'
      end
    end
  end
  if answer == 'stored' or answer == 'replaced' then
    redis.call('HSET', jobs, id, cmsgpack.pack(rec))
    place_new(k, id, rec, due, now)
    event(ev, 'enqueued', id)
    stored = stored + 1
    if ukey ~= '' then
      local till = hold == 'p' and (now + tonumber(period)) or 0
      redis.call('HSET', unique, ukey, id .. '|' .. hold .. '|' .. string.format('%d', till))
    end
  end
  out[#out + 1] = { answer, other }
end

-- Stale claims go, a few per call.
local cursor = redis.call('HGET', k.flow, 'ucursor') or '0'
local page = redis.call('HSCAN', unique, cursor, 'COUNT', SWEEP)
for i = 1, #page[2], 2 do
  if not holder(page[2][i + 1]) then
    redis.call('HDEL', unique, page[2][i])
  end
end
redis.call('HSET', k.flow, 'ucursor', page[1])

emit_events(KEYS[5], tonumber(ARGV[2]), ev)
if buried > 0 then
  trim(jobs, dead, tonumber(ARGV[3]), now - tonumber(ARGV[4]), tonumber(ARGV[5]) + buried)
end
if stored > 0 or #out > 0 then
  wake(KEYS[4])
end
out[#out + 1] = redis.call('ZCOUNT', outbox, '-inf', now)
return out
