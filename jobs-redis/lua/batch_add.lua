-- batch_add: open a batch, or add members to an open one.
--
-- KEYS[1] meta     hash: opened, finished, succeeded, dead, cb:<kind> -> callback (JSON)
-- KEYS[2] members  hash: job id -> queue
-- KEYS[3] done     hash: job id -> 's' (succeeded) or 'd' (dead)
-- ARGV[1] '1' to open (the opener's call, before its members are enqueued), '0' to add
--   to an open batch (before the members are enqueued); ARGV[2] number of members, then
--   2 per member:
--   job id, queue; then 2 per callback: kind, callback JSON (kept from the first call)
--
-- Returns: { status, complete } with status 'added', 'not_found' (adding to a batch never
-- opened) or 'finished' (adding to a batch that ended: refused, nothing changed), and
-- complete as batch_complete in lib.lua (only a retried open of an already-run batch, or
-- an empty batch, is complete at once).

local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'hash' }, { KEYS[3], 'hash' } })
if wrong then return wrong end

local meta, members, done = KEYS[1], KEYS[2], KEYS[3]
local open = ARGV[1] == '1'
local state = redis.call('HMGET', meta, 'opened', 'finished')
if state[2] == '1' then return { 'finished', false } end
if not open and state[1] ~= '1' then return { 'not_found', false } end
-- Every member ended (its callbacks are being enqueued): too late to join.
if not open and redis.call('HLEN', done) >= redis.call('HLEN', members) then
  return { 'finished', false }
end

local n = tonumber(ARGV[2])
for i = 3, 2 + n * 2, 2 do
  redis.call('HSET', members, ARGV[i], ARGV[i + 1])
end
for i = 3 + n * 2, #ARGV, 2 do
  redis.call('HSETNX', meta, 'cb:' .. ARGV[i], ARGV[i + 1])
end
if open then
  redis.call('HSET', meta, 'opened', '1')
end
return { 'added', batch_complete(meta, members, done, now_ms()) or false }
