-- reschedule: move a waiting job (ready, in its key's line, or scheduled) to another
-- run-at or priority, in one step: it never runs at its old place after this.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] wake
-- KEYS[5] flow  KEYS[6] groups  KEYS[7] gactive  KEYS[8] group  KEYS[9] gdelayed (see
-- lib.lua, "Flow control")  KEYS[10] parked (see lib.lua, "Paused batches")
-- ARGV[1] id
-- ARGV[2] run_at: 'keep', or '' = now, '+N' = N ms from now (server clock), 'N' = at N ms
--   since the epoch
-- ARGV[3] priority (-128..127), '' to keep it
--
-- Returns (src/scripts/reschedule.rs reads them as RescheduleOutcome): 'moved',
-- 'not_waiting' (running or ended: nothing changed), 'not_found' (no record, or one that
-- cannot be read).
--
-- Uses lib.lua: check_types, now_ms, ready_at, load, wake, schedule, unlink_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' } })
if wrong then return wrong end

local k = { jobs = KEYS[1], ready = KEYS[2], scheduled = KEYS[3], flow = KEYS[5], groups = KEYS[6],
  gactive = KEYS[7], group = KEYS[8], gdelayed = KEYS[9], parked = KEYS[10] }
local id = ARGV[1]
local rec = load(k.jobs, id)
if not rec then return 'not_found' end
local now = now_ms()
local due
if unlink_ready(k, id, rec) then
  due = ready_at(rec)
else
  local at = redis.call('ZSCORE', k.scheduled, id)
  if not at then return 'not_waiting' end
  redis.call('ZREM', k.scheduled, id)
  due = tonumber(at)
end
if ARGV[3] ~= '' then rec[F_PRIORITY] = tonumber(ARGV[3]) end
local run_at = ARGV[2]
if run_at == '' then
  due = now
elseif string.sub(run_at, 1, 1) == '+' then
  due = now + tonumber(string.sub(run_at, 2))
elseif run_at ~= 'keep' then
  due = tonumber(run_at)
end
schedule(k, id, rec, due, now)
wake(KEYS[4])
return 'moved'
