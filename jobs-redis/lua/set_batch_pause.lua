-- set_batch_pause: pause or resume a batch's members on one queue (see lib.lua, "Paused
-- batches"). Pausing adds the batch to `bpaused`: reservations park its ready members as
-- they meet them. Resuming takes it out and puts up to ARGV[3] parked members back in
-- line per call; the caller calls again while some are left.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] wake  KEYS[4] bpaused  KEYS[5] parked
-- KEYS[6] flow  KEYS[7] groups  KEYS[8] gactive  KEYS[9] group  KEYS[10] gdelayed
-- ARGV[1] batch id  ARGV[2] 'pause' or 'resume'  ARGV[3] most members moved per call
--
-- Returns: the parked members left (0 when done).
--
-- Uses lib.lua: check_types, wake, load, make_ready.

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' }, { KEYS[3], 'list' }, { KEYS[4], 'set' } })
if wrong then return wrong end

local k = { jobs = KEYS[1], ready = KEYS[2], bpaused = KEYS[4], parked = KEYS[5], flow = KEYS[6],
  groups = KEYS[7], gactive = KEYS[8], group = KEYS[9], gdelayed = KEYS[10] }
local batch = ARGV[1]
if ARGV[2] == 'pause' then
  redis.call('SADD', k.bpaused, batch)
  return 0
end
redis.call('SREM', k.bpaused, batch)
local line = k.parked .. batch
local moved = redis.call('ZPOPMIN', line, tonumber(ARGV[3]))
local n = 0
for i = 1, #moved, 2 do
  local id = moved[i]
  local rec = load(k.jobs, id)
  if rec then make_ready(k, id, rec) end
  n = n + 1
end
if n > 0 then
  redis.call('HINCRBY', k.flow, 'parked', -n)
  wake(KEYS[3])
end
return redis.call('ZCARD', line)
