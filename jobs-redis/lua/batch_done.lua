-- batch_done: count batch members that ended (drained from a queue's outbox).
--
-- KEYS[1] meta  KEYS[2] members  KEYS[3] done   (see batch_add.lua)
-- ARGV: 2 per member: job id, 's' (succeeded) or 'd' (dead)
--
-- Each member counts once, however often its ending is reported (a drain retried after
-- a crash, two workers draining at once), and only if it is a member. Returns
-- batch_complete's answer (lib.lua), or false while members are pending.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'hash' }, { KEYS[3], 'hash' } })
if wrong then return wrong end

local meta, members, done = KEYS[1], KEYS[2], KEYS[3]
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', members, ARGV[i]) == 1 and redis.call('HSETNX', done, ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', meta, ARGV[i + 1] == 's' and 'succeeded' or 'dead', 1)
  end
end
return batch_complete(meta, members, done, now_ms()) or false
