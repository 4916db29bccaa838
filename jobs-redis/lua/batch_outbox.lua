-- batch_outbox: a queue's outbox of batch work (lib.lua, batch_ended), on the server's
-- clock.
--
-- KEYS[1] outbox  zset: member '<batch> <job> <s|d>' (an ended member, not yet counted)
--   or '<batch> check' (look at the batch: fire it if it is complete and unclaimed,
--   enqueue members whose adder died); score: when it is due, ms
-- KEYS[2] wake    list: the queue's wake-up token. Writing an entry due later wakes one
--   idle worker, whose next reservation then learns when it is due (reserve's next_in):
--   idle workers do not poll, so later work must be announced.
-- ARGV[1] mode, then:
--   'due'    ARGV[2] limit: the oldest due entries
--   'check'  ARGV[2] ms from now, ARGV[3] batch id: schedules a check of the batch
--   'settle' ARGV[2] n, then n entries to remove (only those still due: an entry
--            another caller wrote again for later, a check say, stays), then 2 per entry
--            to look at again later: entry, ms from now (only entries still there:
--            another drainer may have removed them meanwhile)
--
-- Returns: due: the entries; check, settle: 1.
--
-- Uses lib.lua: check_types, now_ms, wake.

local wrong = check_types({ { KEYS[1], 'zset' }, { KEYS[2], 'list' } })
if wrong then return wrong end

local outbox, mode = KEYS[1], ARGV[1]
local now = now_ms()
if mode == 'due' then
  return redis.call('ZRANGEBYSCORE', outbox, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
end
if mode == 'check' then
  redis.call('ZADD', outbox, now + tonumber(ARGV[2]), ARGV[3] .. ' check')
  wake(KEYS[2])
  return 1
end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do
  local due = redis.call('ZSCORE', outbox, ARGV[i])
  if due and tonumber(due) <= now then
    redis.call('ZREM', outbox, ARGV[i])
  end
end
local later = false
for i = 3 + n, #ARGV, 2 do
  if redis.call('ZADD', outbox, 'XX', 'CH', now + tonumber(ARGV[i + 1]), ARGV[i]) == 1 then
    later = true
  end
end
if later then
  wake(KEYS[2])
end
return 1
