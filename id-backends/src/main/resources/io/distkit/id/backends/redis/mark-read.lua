-- distkit id-backends: read a worker id's high-water mark for a new holder
-- KEYS[1] mark hash {token, ts}; ARGV[1] the new holder's fencing token.
-- Returns -1 if a holder with a higher token has read or saved the mark since (the caller lost the worker
-- id); otherwise records the token, so that older holders can no longer save, and returns the mark (0 if none).
local token = redis.call('HGET', KEYS[1], 'token')
if token and tonumber(token) > tonumber(ARGV[1]) then
  return -1
end
redis.call('HSET', KEYS[1], 'token', ARGV[1])
return tonumber(redis.call('HGET', KEYS[1], 'ts') or '0')
