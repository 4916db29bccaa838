-- dead_list: a page of the dead set, most recent first, with each record.
--
-- KEYS[1] jobs  KEYS[2] dead
-- ARGV[1] offset  ARGV[2] limit (the caller bounds it)
--
-- Returns: a list of { id, name, payload, priority, max_attempts, attempts, deliveries,
--   stalls, created, finished, error, result or '', progress percent or '', progress
--   message or '', how it ended (dead, cancelled or expired), batch id or '' }; corrupt records come
--   back with name '' and error 'corrupt record'.
--
-- Uses lib.lua: load, ended_as.

local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
if limit <= 0 then return out end
local ids = redis.call('ZREVRANGE', KEYS[2], offset, offset + limit - 1)
for _, id in ipairs(ids) do
  local rec = load(KEYS[1], id)
  if rec then
    out[#out + 1] = {
      id, rec[F_NAME], rec[F_PAYLOAD], rec[F_PRIORITY], rec[F_MAX_ATTEMPTS], rec[F_ATTEMPTS],
      rec[F_DELIVERIES], rec[F_STALLS], rec[F_CREATED], rec[F_FINISHED] or 0,
      rec[F_ERROR] or '', rec[F_RESULT] or '',
      (rec[F_PROGRESS] or {})[1] or '', (rec[F_PROGRESS] or {})[2] or '', ended_as(rec),
      type(rec[F_BATCH]) == 'string' and rec[F_BATCH] or '',
    }
  else
    out[#out + 1] = { id, '', '', 0, 0, 0, 0, 0, 0, 0, 'corrupt record', '', '', '', 'dead', '' }
  end
end
return out
