-- cancel: cancel a job. A waiting one is ended at once; a running one is marked, and the
-- worker running it learns it at its next renewal (renew.lua) and the outcome it then
-- records ends it as cancelled unless it succeeded (finish.lua, or recover.lua if the
-- worker died).
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased  KEYS[5] succeeded
-- KEYS[6] dead  KEYS[7] events  KEYS[8] outbox  KEYS[9] cancel
-- KEYS[10] flow  KEYS[11] groups  KEYS[12] gactive  KEYS[13] group  KEYS[14] gdelayed
-- (see lib.lua, "Flow control")  KEYS[15] parked (see lib.lua, "Paused batches")
-- ARGV[1] id  ARGV[2] events max length (0: off)
-- ARGV[3] dead max  ARGV[4] dead max age ms  ARGV[5] trim batch
--
-- A job in no set at all (an orphan, see sweep.lua) is cancelled at once.
--
-- Returns: { what, outbox entries due }, what one of (src/scripts/cancel.rs reads them as
-- CancelOutcome): 'cancelled' (ended now), 'requested' (running: its worker is told),
-- 'finished' (too late: it ended), 'not_found'.
--
-- Uses lib.lua: check_types, emit_events, now_ms, load, trim, cancel_job, unlink_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'zset' }, { KEYS[6], 'zset' }, { KEYS[8], 'zset' }, { KEYS[9], 'set' } })
if wrong then return wrong end

local jobs, dead, outbox = KEYS[1], KEYS[6], KEYS[8]
local id = ARGV[1]
local rec = load(jobs, id)
if not rec then return { 'not_found', 0 } end
local k = { ready = KEYS[2], flow = KEYS[10], groups = KEYS[11], gactive = KEYS[12], group = KEYS[13],
  gdelayed = KEYS[14], parked = KEYS[15] }
local now = now_ms()
local what
if unlink_ready(k, id, rec) or redis.call('ZREM', KEYS[3], id) == 1 then
  local ev = {}
  cancel_job(jobs, dead, id, rec, now, ev, outbox)
  emit_events(KEYS[7], tonumber(ARGV[2]), ev)
  trim(jobs, dead, tonumber(ARGV[3]), now - tonumber(ARGV[4]), tonumber(ARGV[5]))
  what = 'cancelled'
elseif redis.call('ZSCORE', KEYS[5], id) or redis.call('ZSCORE', dead, id) then
  what = 'finished'
elseif redis.call('ZSCORE', KEYS[4], id) then
  redis.call('SADD', KEYS[9], id)
  what = 'requested'
else
  -- In no set (left behind by a failure outside the framework): nothing will run it.
  local ev = {}
  cancel_job(jobs, dead, id, rec, now, ev, outbox)
  emit_events(KEYS[7], tonumber(ARGV[2]), ev)
  what = 'cancelled'
end
return { what, redis.call('ZCOUNT', outbox, '-inf', now) }
