-- distkit lock-redlock: the fencing write-back of a quorum acquire
-- KEYS[1] lock key, KEYS[2] fence key (same hash slot); ARGV[1] owner value, ARGV[2] the token m the client
-- took (the largest over its quorum). If the lock still holds this owner value, raises the fence counter to
-- max(counter, m) and returns 1; otherwise touches nothing and returns 0. A write-back counts only where the
-- lock is still ours: a later holder's acquire on that node then comes after it and draws a larger token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
  if fence < tonumber(ARGV[2]) then
    redis.call('SET', KEYS[2], ARGV[2])
  end
  return 1
end
return 0
