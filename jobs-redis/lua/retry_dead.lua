-- retry_dead: move dead jobs back to ready with fresh attempts.
--
-- KEYS[1] jobs  KEYS[2] dead  KEYS[3] ready  KEYS[4] wake
-- KEYS[5] flow  KEYS[6] groups  KEYS[7] gactive  KEYS[8] group  KEYS[9] gdelayed (see
-- lib.lua, "Flow control")
-- ARGV: job ids (the caller sends bounded chunks)
--
-- Returns: how many moved. Ids not in the dead set, or with unreadable records, are skipped.
--
-- Uses lib.lua: check_types, now_ms, set_ready_at, load, store, wake, make_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'zset' }, { KEYS[4], 'list' } })
if wrong then return wrong end

local jobs, dead, ready = KEYS[1], KEYS[2], KEYS[3]
local k = { jobs = jobs, ready = ready, flow = KEYS[5], groups = KEYS[6], gactive = KEYS[7], group = KEYS[8],
  gdelayed = KEYS[9] }
local now = now_ms()
local moved = 0
for _, id in ipairs(ARGV) do
  if redis.call('ZSCORE', dead, id) then
    local rec = load(jobs, id)
    if rec then
      redis.call('ZREM', dead, id)
      rec[F_ATTEMPTS] = 0
      rec[F_STALLS] = 0
      rec[F_FINISHED] = 0
      -- A retried cancelled or expired job is an ordinary job again, without its deadline.
      if rec[F_CANCELLED] then rec[F_CANCELLED] = false end
      if rec[F_EXPIRES] then rec[F_EXPIRES] = false end
      set_ready_at(rec, now)
      store(jobs, id, rec)
      make_ready(k, id, rec)
      moved = moved + 1
    end
  end
end
if moved > 0 then
  wake(KEYS[4])
end
return moved
