-- distkit id-backends: raise a worker id's high-water mark
-- KEYS[1] mark hash {token, ts}; ARGV[1] the holder's fencing token, ARGV[2] the timestamp.
-- Returns 0, changing nothing, if a holder with a higher token has taken the worker id; otherwise raises
-- the mark to max(mark, timestamp) and returns 1.
local token = redis.call('HGET', KEYS[1], 'token')
if token and tonumber(token) > tonumber(ARGV[1]) then
  return 0
end
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or '0')
if tonumber(ARGV[2]) > ts then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'ts', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'token', ARGV[1])
end
return 1
