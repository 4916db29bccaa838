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
-- them. The page starts right after the place (score, id) the cursor names, wherever
-- its job is now.
--
-- Returns: a list of { id, score, state, name, payload, priority, max_attempts, attempts,
--   deliveries, stalls, created, run_at or '', lease_end or '', finished or '', error or
--   '', result or '', progress percent or '', progress message or '', batch id or '' };
--   state as job.lua
--   says it (dead, cancelled or expired for the dead set); a record that cannot be read
--   comes back with name '' and error 'corrupt record', so it can be seen and deleted.
--   Cost: O(log^2 n + limit).
--
-- Uses lib.lua: load, ended_as.

local sets = { ready = KEYS[2], scheduled = KEYS[3], active = KEYS[4], succeeded = KEYS[5], dead = KEYS[6] }
local state = ARGV[1]
local set = sets[state]
local limit = tonumber(ARGV[4])
if not set or limit <= 0 then return {} end
local desc = state == 'succeeded' or state == 'dead'

-- Where a cursor stands: the number of members that sort before the place (score, id)
-- it names, in ascending order; with `inclusive`, those at that place too. Always the
-- place the cursor names, not its job's current rank: a job's score moves (a lease
-- renewed, a job rescheduled, or dead again after a retry), and paging from where it is
-- now would skip or repeat whole stretches. Members of equal score sort by id, so the
-- place among them is found by binary search over their ranks (O(log n) reads however
-- many share the score: a bulk enqueue gives thousands the same ms).
local function place_of(score, id, inclusive)
  local lo = redis.call('ZCOUNT', set, '-inf', '(' .. score)
  local hi = redis.call('ZCOUNT', set, '-inf', score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', set, mid, mid)[1]
    if m < id or (inclusive and m == id) then lo = mid + 1 else hi = mid end
  end
  return lo
end

local page
if ARGV[3] == '' then
  page = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', set, 0, limit - 1, 'WITHSCORES')
elseif desc then
  -- After the cursor, most recent first: the members strictly before its place.
  local start = redis.call('ZCARD', set) - place_of(ARGV[2], ARGV[3], false)
  page = redis.call('ZREVRANGE', set, start, start + limit - 1, 'WITHSCORES')
else
  local from = place_of(ARGV[2], ARGV[3], true)
  page = redis.call('ZRANGE', set, from, from + limit - 1, 'WITHSCORES')
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
    -- An ended job's score is when it finished: kept, so filters by time still see it.
    local finished = (state == 'dead' or state == 'succeeded') and score or ''
    out[#out + 1] = { id, score, state, '', '', 0, 0, 0, 0, 0, 0, '', '', finished,
      'corrupt record', '', '', '', '' }
  end
end
return out
