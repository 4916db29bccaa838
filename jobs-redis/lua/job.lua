-- job: one job's record and state, read atomically.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased
-- KEYS[5] succeeded  KEYS[6] dead
-- ARGV[1] id
--
-- Returns: nil when not stored; { 'corrupt' } when the record cannot be read; else
-- { state, name, payload, priority, max_attempts, attempts, deliveries, stalls, created,
--   run_at (scheduled) or '', lease_end (active) or '', finished or '', error or '',
--   result or '' }, state one of ready, scheduled, active, succeeded, dead, orphan.

local id = ARGV[1]
local rec, why = load(KEYS[1], id)
if not rec then
  if why == 'corrupt' then return { 'corrupt' } end
  return nil
end
local state, run_at, lease_end = 'orphan', '', ''
if redis.call('ZSCORE', KEYS[2], id) then
  state = 'ready'
else
  local s = redis.call('ZSCORE', KEYS[3], id)
  local l = redis.call('ZSCORE', KEYS[4], id)
  if s then
    state, run_at = 'scheduled', s
  elseif l then
    state, lease_end = 'active', l
  elseif redis.call('ZSCORE', KEYS[5], id) then
    state = 'succeeded'
  elseif redis.call('ZSCORE', KEYS[6], id) then
    state = 'dead'
  end
end
local finished = ''
if rec[F_FINISHED] ~= 0 then finished = rec[F_FINISHED] end
return {
  state, rec[F_NAME], rec[F_PAYLOAD], rec[F_PRIORITY], rec[F_MAX_ATTEMPTS], rec[F_ATTEMPTS],
  rec[F_DELIVERIES], rec[F_STALLS], rec[F_CREATED], run_at, lease_end, finished,
  rec[F_ERROR] or '', rec[F_RESULT] or '',
}
