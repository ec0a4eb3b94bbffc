-- distkit lock-redis: acquire
-- KEYS[1] lock key, KEYS[2] fence key (same hash slot); ARGV[1] owner value, ARGV[2] lease in milliseconds;
-- ARGV[3], optional (Redlock): the token the client proposes, used as the floor instead of the server clock.
-- Returns {1, fencing token} when the lock is this owner's, {0, PTTL of the lock} when another owner holds it.
--
-- Idempotent per owner value: the owner value is unique to one acquisition, so finding it in the lock
-- means this acquisition already holds the lock (a request re-sent after a reconnect): the lease is
-- refreshed and the token issued then is returned again, never a second one.
-- The fence counter only grows, and a new token is never below the server clock in microseconds: it is
-- max(fence + 1, TIME). So tokens still exceed every token issued before when the fence lost its latest
-- increments: after a restart without persistence (the fence is gone) and after a failover to a replica
-- that missed them (the fence is behind); either way as long as the serving clock is not behind the clock
-- that issued those tokens.
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: replicate effects, TIME is not deterministic (a no-op since 5)
end

local function next_token()
  local floor = ARGV[3]
  if not floor then
    local now = redis.call('TIME')
    floor = now[1] .. string.format('%06d', tonumber(now[2]))
  end
  local token = redis.call('INCR', KEYS[2])
  if token < tonumber(floor) then
    redis.call('SET', KEYS[2], floor)
    return tonumber(floor)
  end
  return token
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
