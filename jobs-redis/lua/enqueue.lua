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
-- Uses lib.lua: check_types, event, emit_events, now_ms, wake, new_job, place_new.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' } })
if wrong then return wrong end

local jobs, ready, scheduled = KEYS[1], KEYS[2], KEYS[3]
local k = { jobs = jobs, ready = ready, scheduled = scheduled, flow = KEYS[6], groups = KEYS[7], gactive = KEYS[8], group = KEYS[9],
  gdelayed = KEYS[10] }
local now = now_ms()
local stored = 0
local ev = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local id, rec, due = new_job(ARGV, 3 + i * 9, now)
  -- HSETNX: the existence check and the write in one command.
  if redis.call('HSETNX', jobs, id, cmsgpack.pack(rec)) == 1 then
    place_new(k, id, rec, due, now)
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
