-- batch_done: count batch members that ended (drained from a queue's outbox), check a
-- batch, and take up its firing when it is complete.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] claim ms   ARGV[2] most dead ids in the summary
-- ARGV[3] '' unless the call holds a check of the batch; then how long (ms) an added job
--   waits for its adder before it is handed to the caller to enqueue
-- ARGV[4] most added jobs handed out per call
-- then 2 per member that ended: job id, 's' (succeeded) or 'd' (dead)
--
-- Each member counts once, however often its ending is reported (a drain retried after
-- a crash, two workers draining at once), and only if it is a member.
--
-- Returns batch_reply (batch_lib.lua): { status, retry_in, summary, added jobs }. The
-- caller keeps its outbox entries, due again after retry_in, while the status is
-- 'claimed' (so the firing is taken up once the claim ends, with no further ending
-- needed), and keeps a check while retry_in >= 0; it removes them otherwise ('fire':
-- once it confirmed). A check of a pending batch hands out added jobs whose adder did
-- not report them enqueued within the grace period and that have not ended: the caller
-- enqueues them (by id: a job still stored is not stored twice) and reports them added.
--
-- Uses lib.lua: now_ms; batch_lib.lua: batch_check_types, batch_state, batch_reply.

local wrong = batch_check_types()
if wrong then return wrong end

local claim_ms, dead_cap = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 5, #ARGV, 2 do
  local id, outcome = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', B_MEMBERS, id) == 1 and redis.call('HSETNX', B_DONE, id, outcome) == 1 then
    if outcome == 's' then
      redis.call('HINCRBY', B_META, 'succeeded', 1)
    else
      redis.call('HINCRBY', B_META, 'dead', 1)
      redis.call('RPUSH', B_DEAD, id)
    end
  end
end

local now = now_ms()
local status, retry_in = batch_state(now, claim_ms)
if ARGV[3] == '' then
  return batch_reply(status, retry_in, dead_cap)
end

-- A check.
if status == 'unopened' then
  -- Its opener is still recording members: look again later.
  return batch_reply(status, claim_ms, dead_cap)
end
if status ~= 'pending' then
  return batch_reply(status, retry_in, dead_cap)
end
local grace, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local cutoff = now - grace
local recovered = {}
local late = redis.call('ZRANGEBYSCORE', B_ADDING, '-inf', cutoff, 'LIMIT', 0, max)
for _, id in ipairs(late) do
  local job = redis.call('HGET', B_ADDING_JOBS, id)
  if job and redis.call('HEXISTS', B_DONE, id) == 0 then
    recovered[#recovered + 1] = id
    recovered[#recovered + 1] = job
  else
    -- It ran and ended: it was enqueued.
    redis.call('ZREM', B_ADDING, id)
    redis.call('HDEL', B_ADDING_JOBS, id)
  end
end
if #recovered > 0 or #late == max then
  -- Come back once these are enqueued: more may be late.
  retry_in = 0
else
  local next_late = redis.call('ZRANGEBYSCORE', B_ADDING, string.format('(%d', cutoff), '+inf',
    'LIMIT', 0, 1, 'WITHSCORES')
  if #next_late > 0 then
    retry_in = tonumber(next_late[2]) + grace - now
  end
end
return batch_reply(status, retry_in, dead_cap, recovered)
