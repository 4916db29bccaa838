-- delete: delete jobs of one queue with their records: by id, or the first ones of a
-- state (a purge step).
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased  KEYS[5] succeeded
-- KEYS[6] dead  KEYS[7] events  KEYS[8] outbox  KEYS[9] cancel
-- KEYS[10] flow  KEYS[11] groups  KEYS[12] gactive  KEYS[13] group  KEYS[14] gdelayed
-- (see lib.lua, "Flow control")  KEYS[15] parked (see lib.lua, "Paused batches")
-- KEYS[16] bpaused
-- ARGV[1] events max length (0: off)
-- ARGV[2] dead max  ARGV[3] dead max age ms  ARGV[4] trim batch
-- ARGV[5] 'ids', then ARGV[6..] the job ids (the caller bounds how many); or a state
--   (ready, scheduled, succeeded, dead), then ARGV[6] how many at most (the caller
--   bounds it): the first ones in the state's order (as list.lua's); for ready, then the
--   jobs waiting under a limit key and the parked members of paused batches, which
--   stats counts as ready too
--
-- A limit key with waiting jobs is listed in groups (a free slot), held back in gdelayed,
-- or at its limit, and then has running jobs (in gactive, whose size is bounded by the
-- jobs running now): the keys purged are read from those three.
--
-- A waiting job (ready or scheduled) is cancelled first (cancel_job: its batch counts it
-- as ended, not succeeded; a Cancelled event), then removed with its record; an ended one
-- (succeeded, dead, cancelled, expired) is removed; a leased one is left alone. A record
-- that cannot be read is removed from every set but the leases.
--
-- Returns: { answers, outbox entries due }, answers one per id in 'ids' mode ('deleted',
-- 'running' or 'not_found'), and the number deleted in state mode.
--
-- Uses lib.lua: check_types, emit_events, now_ms, load, trim, cancel_job, unlink_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'zset' }, { KEYS[8], 'zset' } })
if wrong then return wrong end

local jobs, scheduled, leased, succeeded, dead, outbox = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8]
local k = { ready = KEYS[2], flow = KEYS[10], groups = KEYS[11], gactive = KEYS[12], group = KEYS[13],
  gdelayed = KEYS[14], parked = KEYS[15] }
local now = now_ms()
local ev = {}

local function delete_one(id)
  if redis.call('ZSCORE', leased, id) then return 'running' end
  local rec, why = load(jobs, id)
  if rec then
    if unlink_ready(k, id, rec) or redis.call('ZREM', scheduled, id) == 1 then
      cancel_job(jobs, dead, id, rec, now, ev, outbox)
    end
  elseif why == 'missing' then
    -- Entries whose record is gone are dropped from the sets a purge walks all the same.
    local n = redis.call('ZREM', k.ready, id) + redis.call('ZREM', scheduled, id)
      + redis.call('ZREM', succeeded, id) + redis.call('ZREM', dead, id)
    return n > 0 and 'deleted' or 'not_found'
  else
    redis.call('ZREM', k.ready, id)
    redis.call('ZREM', scheduled, id)
  end
  redis.call('ZREM', succeeded, id)
  redis.call('ZREM', dead, id)
  redis.call('HDEL', jobs, id)
  return 'deleted'
end

local answers
if ARGV[5] == 'ids' then
  answers = {}
  for i = 6, #ARGV do answers[#answers + 1] = delete_one(ARGV[i]) end
else
  local sets = { ready = k.ready, scheduled = scheduled, succeeded = succeeded, dead = dead }
  local set = sets[ARGV[5]]
  local limit = tonumber(ARGV[6])
  answers = 0
  if set and limit > 0 then
    local desc = ARGV[5] == 'succeeded' or ARGV[5] == 'dead'
    local ids = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, 0, limit - 1)
    for _, id in ipairs(ids) do
      if delete_one(id) == 'deleted' then answers = answers + 1 end
    end
  end
  if ARGV[5] == 'ready' and answers < limit then
    local lines = {}
    local function lines_of(prefix, names)
      for _, name in ipairs(names) do lines[#lines + 1] = prefix .. name end
    end
    lines_of(k.group, redis.call('ZRANGE', k.groups, 0, limit - 1))
    lines_of(k.group, redis.call('ZRANGE', k.gdelayed, 0, limit - 1))
    lines_of(k.group, redis.call('HKEYS', k.gactive))
    lines_of(k.parked, redis.call('SMEMBERS', KEYS[16]))
    for _, line in ipairs(lines) do
      if answers >= limit then break end
      for _, id in ipairs(redis.call('ZRANGE', line, 0, limit - answers - 1)) do
        if delete_one(id) == 'deleted' then answers = answers + 1 end
      end
    end
  end
end
emit_events(KEYS[7], tonumber(ARGV[1]), ev)
trim(jobs, dead, tonumber(ARGV[2]), now - tonumber(ARGV[3]), tonumber(ARGV[4]))
return { answers, redis.call('ZCOUNT', outbox, '-inf', now) }
