-- list: a page of one queue's jobs in one state, with their records, read atomically.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased  KEYS[5] succeeded
-- KEYS[6] dead
-- ARGV[1] state: ready, scheduled, active, succeeded or dead
-- ARGV[2] cursor score ('' for the first page)  ARGV[3] cursor id ('' for the first page)
-- ARGV[4] limit (the caller bounds it)
--
-- Order: ready, scheduled and active ascending by score (start order, run-at, lease
-- end); succeeded and dead descending (most recent first). The page starts after the
-- cursor's job: by its rank while it is still in the set, else after its score.
--
-- Returns: a list of { id, score, state, name, payload, priority, max_attempts, attempts,
--   deliveries, stalls, created, run_at or '', lease_end or '', finished or '', error or
--   '', result or '', progress percent or '', progress message or '' }; state as job.lua
--   says it (dead, cancelled or expired for the dead set); a record that cannot be read
--   comes back with name '' and error 'corrupt record', so it can be seen and deleted.
--   Cost: O(log n + limit).
--
-- Uses lib.lua: load, ended_as.

local sets = { ready = KEYS[2], scheduled = KEYS[3], active = KEYS[4], succeeded = KEYS[5], dead = KEYS[6] }
local state = ARGV[1]
local set = sets[state]
local limit = tonumber(ARGV[4])
if not set or limit <= 0 then return {} end
local desc = state == 'succeeded' or state == 'dead'

local page
local rank = nil
if ARGV[3] ~= '' then
  rank = redis.call(desc and 'ZREVRANK' or 'ZRANK', set, ARGV[3])
end
if ARGV[3] == '' then
  page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, 0, limit - 1, 'WITHSCORES')
elseif rank then
  page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, rank + 1, rank + limit, 'WITHSCORES')
elseif desc then
  page = redis.call('ZREVRANGEBYSCORE', set, '(' .. ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', 0, limit)
else
  page = redis.call('ZRANGEBYSCORE', set, '(' .. ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, limit)
end

local out = {}
for i = 1, #page, 2 do
  local id, score = page[i], page[i + 1]
  local rec = load(KEYS[1], id)
  if rec then
    local run_at, lease_end, st = '', '', state
    local attempts, deliveries = rec[F_ATTEMPTS], rec[F_DELIVERIES]
    if state == 'scheduled' then
      run_at = score
    elseif state == 'active' then
      lease_end = score
      -- The running delivery is counted in the record only when it ends.
      attempts, deliveries = attempts + 1, deliveries + 1
    elseif state == 'dead' then
      st = ended_as(rec)
    end
    local progress = rec[F_PROGRESS] or { '', '' }
    local finished = ''
    if rec[F_FINISHED] and rec[F_FINISHED] ~= 0 then finished = rec[F_FINISHED] end
    out[#out + 1] = {
      id, score, st, rec[F_NAME], rec[F_PAYLOAD], rec[F_PRIORITY], rec[F_MAX_ATTEMPTS], attempts,
      deliveries, rec[F_STALLS], rec[F_CREATED], run_at, lease_end, finished,
      rec[F_ERROR] or '', rec[F_RESULT] or '', progress[1], progress[2],
    }
  else
    out[#out + 1] = { id, score, state == 'dead' and 'dead' or state, '', '', 0, 0, 0, 0, 0, 0, '', '', '',
      'corrupt record', '', '', '' }
  end
end
return out
