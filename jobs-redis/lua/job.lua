-- job: records and states of jobs of one queue, read atomically.
--
-- KEYS[1] jobs  KEYS[2] ready  KEYS[3] scheduled  KEYS[4] leased
-- KEYS[5] succeeded  KEYS[6] dead  KEYS[7] group (prefix of each limit key's line)
-- KEYS[8] parked (prefix of each paused batch's parked members)
-- ARGV: job ids (the caller bounds how many)
--
-- Returns: one entry per id: false when not stored; { 'corrupt' } when the record cannot
-- be read; else { state, name, payload, priority, max_attempts, attempts, deliveries,
-- stalls, created, run_at (scheduled) or '', lease_end (active) or '', finished or '',
-- error or '', result or '', progress percent or '', progress message or '', batch id or
-- '' }, state one
-- of ready, scheduled, active, succeeded, dead, cancelled, orphan (in no set: see
-- sweep.lua). At most six O(log n) reads per id, however many jobs are leased.
--
-- Uses lib.lua: load, ended_as.

local out = {}
for n, id in ipairs(ARGV) do
  local rec, why = load(KEYS[1], id)
  if not rec then
    out[n] = why == 'corrupt' and { 'corrupt' } or false
  else
    local state, run_at, lease_end = 'orphan', '', ''
    local attempts, deliveries = rec[F_ATTEMPTS], rec[F_DELIVERIES]
    if redis.call('ZSCORE', KEYS[2], id)
      or (type(rec[F_KEY]) == 'string' and redis.call('ZSCORE', KEYS[7] .. rec[F_KEY], id))
      or (type(rec[F_BATCH]) == 'string' and redis.call('ZSCORE', KEYS[8] .. rec[F_BATCH], id)) then
      state = 'ready'
    else
      local s = redis.call('ZSCORE', KEYS[3], id)
      local l = not s and redis.call('ZSCORE', KEYS[4], id)
      if s then
        state, run_at = 'scheduled', s
      elseif l then
        state, lease_end = 'active', l
        -- The running delivery is counted in the record only when it ends.
        attempts, deliveries = attempts + 1, deliveries + 1
      elseif redis.call('ZSCORE', KEYS[5], id) then
        state = 'succeeded'
      elseif redis.call('ZSCORE', KEYS[6], id) then
        state = ended_as(rec)
      end
    end
    local progress = rec[F_PROGRESS] or { '', '' }
    local finished = ''
    if rec[F_FINISHED] and rec[F_FINISHED] ~= 0 then finished = rec[F_FINISHED] end
    out[n] = {
      state, rec[F_NAME], rec[F_PAYLOAD], rec[F_PRIORITY], rec[F_MAX_ATTEMPTS], attempts,
      deliveries, rec[F_STALLS], rec[F_CREATED], run_at, lease_end, finished,
      rec[F_ERROR] or '', rec[F_RESULT] or '', progress[1], progress[2],
      type(rec[F_BATCH]) == 'string' and rec[F_BATCH] or '',
    }
  end
end
return out
