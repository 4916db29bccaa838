-- list: a page of one queue's jobs in one state, with their records, read atomically.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased  KEYS[5] succeeded
-- KEYS[6] dead
-- ARGV[1] state: ready, scheduled, active, succeeded or dead
-- ARGV[2] cursor score ('' for the first page)  ARGV[3] cursor id ('' for the first page)
-- ARGV[4] limit (the caller bounds it)
--
-- Order: ready, scheduled and active ascending by score (start order, run-at, lease
-- end); succeeded and dead descending (most recent first), ties by id as Redis sorts
-- them. The page starts after the cursor's job: by its rank while it is still in the
-- set, else at the place (score, id) it had.
--
-- Returns: a list of { id, score, state, name, payload, priority, max_attempts, attempts,
--   deliveries, stalls, created, run_at or '', lease_end or '', finished or '', error or
--   '', result or '', progress percent or '', progress message or '', batch id or '' };
--   state as job.lua
--   says it (dead, cancelled or expired for the dead set); a record that cannot be read
--   comes back with name '' and error 'corrupt record', so it can be seen and deleted.
--   Cost: O(log n + limit), or O(log^2 n + limit) for a cursor whose job left.
--
-- Uses lib.lua: load, ended_as.

local sets = { ready = KEYS[2], scheduled = KEYS[3], active = KEYS[4], succeeded = KEYS[5], dead = KEYS[6] }
local state = ARGV[1]
local set = sets[state]
local limit = tonumber(ARGV[4])
if not set or limit <= 0 then return {} end
local desc = state == 'succeeded' or state == 'dead'

-- Where a cursor whose job has left the set stands: the number of members that sort
-- before it in ascending order. Members of equal score sort by id, so the place among
-- them is found by binary search over their ranks (O(log n) reads however many share
-- the score: a bulk enqueue gives thousands the same ms).
local function place_of(score, id)
  local lo = redis.call('ZCOUNT', set, '-inf', '(' .. score)
  local hi = redis.call('ZCOUNT', set, '-inf', score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', set, mid, mid)[1]
    if m < id then lo = mid + 1 else hi = mid end
  end
  return lo
end

local page
if ARGV[3] == '' then
  page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, 0, limit - 1, 'WITHSCORES')
else
  local rank = redis.call(desc and 'ZREVRANK' or 'ZRANK', set, ARGV[3])
  if rank then
    page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, rank + 1, rank + limit, 'WITHSCORES')
  else
    local before = place_of(ARGV[2], ARGV[3])
    if desc then
      local start = redis.call('ZCARD', set) - before
      page = redis.call('ZREVRANGE', set, start, start + limit - 1, 'WITHSCORES')
    else
      page = redis.call('ZRANGE', set, before, before + limit - 1, 'WITHSCORES')
    end
  end
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
      type(rec[F_BATCH]) == 'string' and rec[F_BATCH] or '',
    }
  else
    out[#out + 1] = { id, score, state == 'dead' and 'dead' or state, '', '', 0, 0, 0, 0, 0, 0, '', '', '',
      'corrupt record', '', '', '', '' }
  end
end
return out
