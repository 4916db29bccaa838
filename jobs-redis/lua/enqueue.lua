-- enqueue: store new jobs; each becomes ready, or scheduled when its run-at is ahead.
--
-- KEYS[1] jobs       hash: id -> record
-- KEYS[2] ready      zset
-- KEYS[3] scheduled  zset
-- KEYS[4] wake       list: wake-up token for blocked workers
-- KEYS[5] events     stream
-- KEYS[6] flow  KEYS[7] groups  KEYS[8] gactive  KEYS[9] group  KEYS[10] gdelayed (see
-- lib.lua, "Flow control")
-- ARGV[1] number of jobs, ARGV[2] events max length (0: off), then 9 per job:
--   id, name, payload, priority (-128..127), max_attempts,
--   run_at: '' = now, '+N' = N ms from now (server clock), 'N' = at N ms since the epoch,
--   batch id ('' for none), limit key ('' for none), deadline (as run_at; '' for none)
--
-- Returns: the number of jobs stored. An id already stored is skipped (idempotent retry).
--
-- Uses lib.lua: check_types, event, emit_events, now_ms, wake, make_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' } })
if wrong then return wrong end

-- An instant as the caller gives it: '' now, '+N' N ms from now, 'N' at N ms since the
-- epoch.
local function instant(arg, now)
  if arg == '' then return now end
  if string.sub(arg, 1, 1) == '+' then return now + tonumber(string.sub(arg, 2)) end
  return tonumber(arg)
end

local jobs, ready, scheduled = KEYS[1], KEYS[2], KEYS[3]
local k = { jobs = jobs, ready = ready, flow = KEYS[6], groups = KEYS[7], gactive = KEYS[8], group = KEYS[9],
  gdelayed = KEYS[10] }
local now = now_ms()
local stored = 0
local ev = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local base = 3 + i * 9
  local id = ARGV[base]
  local due = instant(ARGV[base + 5], now)
  -- A waiting job's record: nothing after the ready time (see lib.lua).
  local rec = {
    ARGV[base + 1], ARGV[base + 2], tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]),
    0, 0, 0, now, due - now,
  }
  local batch, key, deadline = ARGV[base + 6], ARGV[base + 7], ARGV[base + 8]
  -- Optional fields, each only when set (the gaps before the last filled with false).
  local last = (deadline ~= '' and F_EXPIRES) or (key ~= '' and F_KEY) or (batch ~= '' and F_BATCH)
  if last then
    for f = F_FINISHED, last do rec[f] = false end
    if batch ~= '' then rec[F_BATCH] = batch end
    if key ~= '' then rec[F_KEY] = key end
    if deadline ~= '' then rec[F_EXPIRES] = instant(deadline, now) end
  end
  -- HSETNX: the existence check and the write in one command.
  if redis.call('HSETNX', jobs, id, cmsgpack.pack(rec)) == 1 then
    if due <= now then
      make_ready(k, id, rec)
    else
      redis.call('ZADD', scheduled, due, id)
    end
    event(ev, 'enqueued', id)
    stored = stored + 1
  end
end
-- Wake a worker for a scheduled job too: it learns the new earliest run-at and sleeps
-- until then instead of until its idle timeout.
emit_events(KEYS[5], tonumber(ARGV[2]), ev)
if stored > 0 then
  wake(KEYS[4])
end
return stored
