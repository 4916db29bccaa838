-- batch_add: record a batch's members, open it, add members to it from a running job.
--
-- KEYS[1..8] the batch's keys (batch_lib.lua)
-- ARGV[1] mode, then:
--   'register' ARGV[2] ms the keys live unless the batch is opened by then (an opener
--              that died); then 2 per member (at most a chunk): job id, queue.
--              Before the open: the opener records its members in chunks, so no call
--              grows with the batch.
--   'open'     ARGV[2] claim ms, ARGV[3] most dead ids in the summary; then 2 per
--              callback: kind, callback JSON (kept from the first call). From now on the
--              batch can finish; it may be complete at once (empty, or a retried open
--              after every member ended).
--   'add'      3 per member: job id, queue, the job (msgpack, see
--              src/scripts/batch_add.rs): adds to an open batch before the members
--              are enqueued; each job is kept until its
--              adder reports it enqueued ('added'), so that should the adder die, the
--              next check of the batch enqueues it (batch_done.lua).
--   'added'    job ids: those added jobs are enqueued.
--
-- Returns (src/scripts/batch_add.rs reads the statuses as batch_add::Answer):
--   register, add: 'added', 'finished' (refused, nothing changed: the batch finished, or
--     is complete and the call names a member it does not have) or 'not_found' (add
--     only: the batch was never opened)
--   open: { 'added' or 'finished', then batch_reply's fields (batch_lib.lua) }
--   added: 1
--
-- Uses lib.lua: now_ms; batch_lib.lua: batch_check_types, batch_register,
--  batch_is_complete, batch_state, batch_reply.

local wrong = batch_check_types()
if wrong then return wrong end

local mode = ARGV[1]

if mode == 'added' then
  for i = 2, #ARGV do
    redis.call('ZREM', B_ADDING, ARGV[i])
    redis.call('HDEL', B_ADDING_JOBS, ARGV[i])
  end
  return 1
end

local state = redis.call('HMGET', B_META, 'opened', 'finished')
local opened = state[1] == '1'
if state[2] == '1' then
  if mode == 'open' then return { 'finished', 'finished', -1, false, {} } end
  return 'finished'
end

if mode == 'register' then
  if opened and batch_is_complete() then
    -- Firing: a retried open may name its members again, no others.
    for i = 3, #ARGV, 2 do
      if redis.call('HEXISTS', B_MEMBERS, ARGV[i]) == 0 then return 'finished' end
    end
    return 'added'
  end
  redis.call('HSET', B_META, 'created', '1')
  for i = 3, #ARGV, 2 do
    batch_register(ARGV[i], ARGV[i + 1])
  end
  if not opened then
    for _, key in ipairs({ B_META, B_MEMBERS, B_ORDER, B_QUEUES }) do
      redis.call('PEXPIRE', key, ARGV[2])
    end
  end
  return 'added'
end

if mode == 'open' then
  for i = 4, #ARGV, 2 do
    redis.call('HSETNX', B_META, 'cb:' .. ARGV[i], ARGV[i + 1])
  end
  redis.call('HSET', B_META, 'created', '1', 'opened', '1')
  for _, key in ipairs({ B_META, B_MEMBERS, B_ORDER, B_QUEUES }) do
    redis.call('PERSIST', key)
  end
  local status, retry_in = batch_state(now_ms(), tonumber(ARGV[2]))
  local reply = batch_reply(status, retry_in, tonumber(ARGV[3]))
  table.insert(reply, 1, 'added')
  return reply
end

-- add
if not opened then return 'not_found' end
-- Every member ended (its callbacks are being enqueued): too late to join.
if batch_is_complete() then return 'finished' end
local now = now_ms()
for i = 2, #ARGV, 3 do
  if batch_register(ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', B_ADDING, now, ARGV[i])
    redis.call('HSET', B_ADDING_JOBS, ARGV[i], ARGV[i + 2])
  end
end
return 'added'
