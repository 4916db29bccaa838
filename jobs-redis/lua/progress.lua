-- progress: record running jobs' latest progress, for leases still held.
--
-- KEYS[1] jobs    hash: id -> record
-- KEYS[2] leased  zset: id -> lease end
-- KEYS[3] events  stream
-- KEYS[4] tokens  hash: leased id -> token
-- ARGV[1] events max length (0: off), then 4 per item: id, token, percent (0-100), message
--
-- Returns: one status per item (src/scripts/progress.rs): RECORDED = 1; STALE = 0 (the
-- token is stale: nothing is changed). Each recorded item is also a 'progress' event
-- ("<percent> <message>").
--
-- Uses lib.lua: check_types, event, emit_events, lease_tokens, load, store.

-- tokens: read (HMGET) before any write, so a wrong type fails with nothing written.
local wrong = check_types({ { KEYS[1], 'hash' }, { KEYS[2], 'zset' } })
if wrong then return wrong end

local jobs, leased = KEYS[1], KEYS[2]
local out, ev = {}, {}
local ids = {}
for i = 2, #ARGV, 4 do ids[#ids + 1] = ARGV[i] end
local current = lease_tokens(KEYS[4], ids)
for n, id in ipairs(ids) do
  local i = 2 + (n - 1) * 4
  local token = tonumber(ARGV[i + 1])
  local percent, message = tonumber(ARGV[i + 2]), ARGV[i + 3]
  local rec = nil
  if current[n] == token and redis.call('ZSCORE', leased, id) then
    rec = load(jobs, id)
  end
  if rec then
    rec[F_PROGRESS] = { percent, message }
    store(jobs, id, rec)
    event(ev, 'progress', id, percent .. ' ' .. message)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
emit_events(KEYS[3], tonumber(ARGV[1]), ev)
return out
