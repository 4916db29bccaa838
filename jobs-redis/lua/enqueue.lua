-- enqueue: store new jobs; each becomes ready, or scheduled when its run-at is ahead.
--
-- KEYS[1] jobs       hash: id -> record
-- KEYS[2] ready      zset
-- KEYS[3] scheduled  zset
-- KEYS[4] wake       list: wake-up token for blocked workers
-- KEYS[5] events     stream
-- ARGV[1] number of jobs, ARGV[2] events max length (0: off), then 7 per job:
--   id, name, payload, priority (-128..127), max_attempts,
--   run_at: '' = now, '+N' = N ms from now (server clock), 'N' = at N ms since the epoch,
--   batch id ('' for none)
--
-- Returns: the number of jobs stored. An id already stored is skipped (idempotent retry).
--
-- Uses lib.lua: check_types, event, emit_events, now_ms, ready_score, wake.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' } })
if wrong then return wrong end

local jobs, ready, scheduled = KEYS[1], KEYS[2], KEYS[3]
local now = now_ms()
local stored = 0
local ev = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local base = 3 + i * 7
  local id = ARGV[base]
  local run_at = ARGV[base + 5]
  local due = now
  if string.sub(run_at, 1, 1) == '+' then
    due = now + tonumber(string.sub(run_at, 2))
  elseif run_at ~= '' then
    due = tonumber(run_at)
  end
  -- A waiting job's record: nothing after the ready time (see lib.lua).
  local rec = {
    ARGV[base + 1], ARGV[base + 2], tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]),
    0, 0, 0, now, due - now,
  }
  local batch = ARGV[base + 6]
  if batch ~= '' then
    for f = F_FINISHED, F_BATCH - 1 do rec[f] = false end
    rec[F_BATCH] = batch
  end
  -- HSETNX: the existence check and the write in one command.
  if redis.call('HSETNX', jobs, id, cmsgpack.pack(rec)) == 1 then
    if due <= now then
      redis.call('ZADD', ready, ready_score(rec), id)
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
