-- sweep: find records that are in no set (orphans: left behind by a failure outside the
-- framework, e.g. a script that failed half-way on a key someone broke) and move them to
-- dead with the reason. Bounded: one HSCAN page per call; the caller loops on the cursor.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased  KEYS[5] succeeded
-- KEYS[6] dead  KEYS[7] events  KEYS[8] outbox (zset: batch work by due time)
-- KEYS[9] group (prefix of each limit key's line)
-- KEYS[10] parked (prefix of each paused batch's parked members)
-- ARGV[1] cursor ('0' to start)  ARGV[2] page size (HSCAN COUNT)
-- ARGV[3] events max length (0: off)
--
-- Returns: { next cursor ('0' when the scan is complete), moved, outbox entries due }.
--
-- Uses lib.lua: check_types, event, emit_events, batch_ended, now_ms, load,
--  batch_of_unreadable, bury_unreadable, bury.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'zset' }, { KEYS[8], 'zset' } })
if wrong then return wrong end

local ORPHANED = 'found in no set (orphaned by an earlier failure); moved to dead by a sweep'
local page = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local now = now_ms()
local ev, moved = {}, 0
local fields = page[2]
for i = 1, #fields, 2 do
  local id = fields[i]
  local found = false
  for s = 2, 6 do
    if redis.call('ZSCORE', KEYS[s], id) then
      found = true
      break
    end
  end
  local rec = nil
  if not found then
    rec = load(KEYS[1], id)
    -- Ready under its limit key.
    found = rec and ((type(rec[F_KEY]) == 'string' and redis.call('ZSCORE', KEYS[9] .. rec[F_KEY], id))
      or (type(rec[F_BATCH]) == 'string' and redis.call('ZSCORE', KEYS[10] .. rec[F_BATCH], id)))
  end
  if not found then
    if rec then
      bury(KEYS[1], KEYS[6], id, rec, ORPHANED, now)
      event(ev, 'dead', id, ORPHANED)
      batch_ended(KEYS[8], rec[F_BATCH], id, false, now)
    else
      local batch = batch_of_unreadable(KEYS[1], id)
      bury_unreadable(KEYS[6], id, now, ev)
      batch_ended(KEYS[8], batch, id, false, now)
    end
    moved = moved + 1
  end
end
emit_events(KEYS[7], tonumber(ARGV[3]), ev)
return { page[1], moved, redis.call('ZCOUNT', KEYS[8], '-inf', now) }
