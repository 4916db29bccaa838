-- job: one job's record and state, read atomically.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased
-- KEYS[5] succeeded  KEYS[6] dead
-- ARGV[1] id
--
-- Returns: nil when not stored; { 'corrupt' } when the record cannot be read; else
-- { state, name, payload, priority, max_attempts, attempts, deliveries, stalls, created,
--   run_at (scheduled) or '', lease_end (active) or '', finished or '', error or '',
--   result or '', progress percent or '', progress message or '' }, state one of ready, scheduled, active, succeeded, dead, orphan.

local id = ARGV[1]
local rec, why = load(KEYS[1], id)
if not rec then
  if why == 'corrupt' then return { 'corrupt' } end
  return nil
end
local state, run_at, lease_end = 'orphan', '', ''
local attempts, deliveries = rec[F_ATTEMPTS], rec[F_DELIVERIES]
if redis.call('ZSCORE', KEYS[2], id) then
  state = 'ready'
else
  local s = redis.call('ZSCORE', KEYS[3], id)
  if s then
    state, run_at = 'scheduled', s
  elseif redis.call('ZSCORE', KEYS[5], id) then
    state = 'succeeded'
  elseif redis.call('ZSCORE', KEYS[6], id) then
    state = rec[F_CANCELLED] == true and 'cancelled' or 'dead'
  else
    -- Leased members are `id:token` and the token is not in the record (reserve does not
    -- write it): scan for the id. The leased set holds only the running jobs, and this
    -- read is for people, not the hot path.
    local cursor = '0'
    repeat
      local page = redis.call('ZSCAN', KEYS[4], cursor, 'MATCH', id .. ':*', 'COUNT', 1000)
      cursor = page[1]
      if #page[2] > 0 then
        state, lease_end = 'active', page[2][2]
        -- The running delivery is counted in the record only when it ends.
        attempts, deliveries = attempts + 1, deliveries + 1
        cursor = '0'
      end
    until cursor == '0'
  end
end
local progress = rec[F_PROGRESS] or { '', '' }
local finished = ''
if rec[F_FINISHED] and rec[F_FINISHED] ~= 0 then finished = rec[F_FINISHED] end
return {
  state, rec[F_NAME], rec[F_PAYLOAD], rec[F_PRIORITY], rec[F_MAX_ATTEMPTS], attempts,
  deliveries, rec[F_STALLS], rec[F_CREATED], run_at, lease_end, finished,
  rec[F_ERROR] or '', rec[F_RESULT] or '', progress[1], progress[2],
}
