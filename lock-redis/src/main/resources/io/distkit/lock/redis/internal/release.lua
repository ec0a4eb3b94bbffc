-- distkit lock-redis: release
-- KEYS[1] lock key, KEYS[2] release channel (same hash tag); ARGV[1] owner value.
-- Deletes the lock only if this owner still holds it, then tells waiters; returns 1 if it did, 0 if the
-- lock was not (or no longer) this owner's. Never touches another owner's lock.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], '')
  return 1
end
return 0
