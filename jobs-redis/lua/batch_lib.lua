-- Shared by the batch scripts (batch_*.lua, except batch_outbox.lua): prepended after
-- lib.lua by the loader (jobs-redis/src/scripts/mod.rs).
--
-- Every batch script takes the batch's keys, all under the batch's own hash tag, in this
-- order (jobs-redis/src/keys.rs, BatchKeys::all):
--   KEYS[1] meta         hash: created, opened, finished ('1'), claim (ms), succeeded,
--                        dead (counts), cb:<kind> -> callback (JSON)
--   KEYS[2] members      hash: job id -> queue
--   KEYS[3] done         hash: job id -> 's' or 'd', for members that ended
--   KEYS[4] order        list: member ids in the order they joined
--   KEYS[5] dead         list: dead member ids in the order they were counted
--   KEYS[6] queues       set: the queues the members sit on
--   KEYS[7] adding       zset: job id -> when it was added from a running job, until its
--                        adder reports it enqueued
--   KEYS[8] adding_jobs  hash: job id -> that job (msgpack), to enqueue if its adder died
--
-- Counts are kept as members end, so no script reads a batch's members, ended members or
-- dead ids whole: each reads counts, or a page.

local B_META, B_MEMBERS, B_DONE, B_ORDER = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local B_DEAD, B_QUEUES, B_ADDING, B_ADDING_JOBS = KEYS[5], KEYS[6], KEYS[7], KEYS[8]

local function batch_check_types()
  return check_types({ { B_META, 'hash' }, { B_MEMBERS, 'hash' }, { B_DONE, 'hash' },
    { B_ORDER, 'list' }, { B_DEAD, 'list' }, { B_QUEUES, 'set' }, { B_ADDING, 'zset' },
    { B_ADDING_JOBS, 'hash' } })
end

-- Records a member; true if it is new.
local function batch_register(id, queue)
  if redis.call('HSETNX', B_MEMBERS, id, queue) == 1 then
    redis.call('RPUSH', B_ORDER, id)
    redis.call('SADD', B_QUEUES, queue)
    return true
  end
  return false
end

-- Every member has ended (done only holds members, so equal counts say so).
local function batch_is_complete()
  return redis.call('HLEN', B_DONE) >= redis.call('HLEN', B_MEMBERS)
end

-- Where a batch stands, and what its caller does next (src/scripts/batch_done.rs reads
-- these statuses as batch_done::Status):
--   'gone'      no such batch (never created, or expired after it finished)
--   'unopened'  members are being recorded; its opener has not opened it yet
--   'finished'  its callbacks fired
--   'pending'   members have not all ended
--   'claimed'   complete, and another caller is firing it; second value: ms until that
--               caller's claim ends (then anyone may take the firing up)
--   'fire'      complete, and the firing is now this caller's for claim_ms: it enqueues
--               the callbacks (fixed ids: enqueued once) then confirms (batch_confirm.lua)
local function batch_state(now, claim_ms)
  local state = redis.call('HMGET', B_META, 'opened', 'finished', 'claim')
  if state[2] == '1' then return 'finished' end
  if state[1] ~= '1' then
    return redis.call('HLEN', B_META) > 0 and 'unopened' or 'gone'
  end
  if not batch_is_complete() then return 'pending' end
  local claim = tonumber(state[3] or '0')
  if claim > now then return 'claimed', claim - now end
  redis.call('HSET', B_META, 'claim', now + claim_ms)
  return 'fire'
end

-- What a firing needs: { total, succeeded, dead, the first `dead_cap` dead ids, every
-- callback as kind then JSON }. Which of them fire is decided by the caller
-- (CallbackKind::fires in jobs-core, from the kind), so the rule is written once for
-- every backend.
local function batch_summary(dead_cap)
  local counts = redis.call('HMGET', B_META, 'succeeded', 'dead')
  local succeeded, dead = tonumber(counts[1] or '0'), tonumber(counts[2] or '0')
  local dead_ids = {}
  if dead > 0 then
    dead_ids = redis.call('LRANGE', B_DEAD, 0, dead_cap - 1)
  end
  local callbacks = {}
  for _, kind in ipairs({ 'success', 'complete', 'failure' }) do
    local cb = redis.call('HGET', B_META, 'cb:' .. kind)
    if cb then
      callbacks[#callbacks + 1] = kind
      callbacks[#callbacks + 1] = cb
    end
  end
  return { redis.call('HLEN', B_MEMBERS), succeeded, dead, dead_ids, callbacks }
end

-- The answer of batch_done.lua and of batch_add.lua's open: { status, retry_in (ms, -1
-- for none), summary (for 'fire', else false), added jobs to enqueue (id, job, ...) }.
local function batch_reply(status, retry_in, dead_cap, recovered)
  return { status, retry_in or -1, status == 'fire' and batch_summary(dead_cap) or false, recovered or {} }
end
