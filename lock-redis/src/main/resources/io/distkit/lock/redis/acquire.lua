-- distkit lock-redis: acquire
-- KEYS[1] lock key, KEYS[2] fence key (same hash slot); ARGV[1] owner value, ARGV[2] lease in milliseconds.
-- Returns {1, fencing token} when the lock is this owner's, {0, PTTL of the lock} when another owner holds it.
--
-- Idempotent per owner value: the owner value is unique to one acquisition, so finding it in the lock
-- means this acquisition already holds the lock (a request re-sent after a reconnect): the lease is
-- refreshed and the token issued then is returned again, never a second one.
-- The fence counter only grows. When missing (first use, or a restarted Redis without persistence) it is
-- seeded from the server clock in microseconds, so tokens still exceed every token issued before.
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: replicate effects, TIME is not deterministic (a no-op since 5)
end

local function next_token()
  if redis.call('EXISTS', KEYS[2]) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', KEYS[2], now[1] .. string.format('%06d', tonumber(now[2])))
  end
  return redis.call('INCR', KEYS[2])
end

if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, next_token()}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local token = redis.call('GET', KEYS[2])
  if token then
    return {1, tonumber(token)}
  end
  return {1, next_token()} -- the fence was deleted behind our back: never reuse a token, issue a new one
end
return {0, redis.call('PTTL', KEYS[1])}
