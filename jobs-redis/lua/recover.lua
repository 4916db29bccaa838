-- recover: return jobs whose lease expired to ready, or to dead once they stalled too
-- often or were on their last attempt. reserve.lua does the same on every call; this is
-- for operators and tests.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] leased  KEYS[4] dead  KEYS[5] wake  KEYS[6] events
-- KEYS[7] outbox (zset: batch work by due time)  KEYS[8] cancel (set)
-- KEYS[9] tokens (hash: leased id -> token)  KEYS[10] batch_active (hash)
-- KEYS[11] flow  KEYS[12] groups  KEYS[13] gactive  KEYS[14] group  KEYS[15] gdelayed
-- (see lib.lua, "Flow control")  KEYS[16] tput (per-minute counts)
-- ARGV[1] limit  ARGV[2] max stalls  ARGV[3] dead max  ARGV[4] dead max age ms
-- ARGV[5] trim batch  ARGV[6] events max length (0: off)
--
-- Returns: { requeued, buried, outbox entries due }.
--
-- Uses lib.lua: check_types, emit_events, now_ms, wake, recover_expired, flow_conf.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'zset' },
  { KEYS[5], 'list' }, { KEYS[7], 'zset' }, { KEYS[8], 'set' }, { KEYS[9], 'hash' } })
-- batch_active is only touched through pcall (a display counter).
if wrong then return wrong end

local limits = { tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]) }
local ev = {}
local now = now_ms()
local k = { jobs = KEYS[1], ready = KEYS[2], leased = KEYS[3], dead = KEYS[4], outbox = KEYS[7],
  cancel = KEYS[8], tokens = KEYS[9], batch_active = KEYS[10], flow = KEYS[11], groups = KEYS[12],
  gactive = KEYS[13], group = KEYS[14], gdelayed = KEYS[15], tput = KEYS[16] }
local requeued, buried, freed = recover_expired(k, now, tonumber(ARGV[1]), tonumber(ARGV[2]), limits, ev)
emit_events(KEYS[6], tonumber(ARGV[6]), ev)
-- Also when a slot under a limit is free again.
if requeued > 0 or freed or (requeued + buried > 0 and flow_conf(k).concurrency) then
  wake(KEYS[5])
end
return { requeued, buried, redis.call('ZCOUNT', KEYS[7], '-inf', now) }
