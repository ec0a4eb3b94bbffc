-- distkit lock-redis: renew many leases at once
-- KEYS[i] lock key i (in Redis Cluster all in one hash slot); ARGV[2i-1] owner value i, ARGV[2i] lease i in ms.
-- Returns one 1/0 per key: 1 if the lock was still owner i's and now expires lease i from now, 0 if it
-- was gone or someone else's (left untouched).
local renewed = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i - 1] then
    renewed[i] = redis.call('PEXPIRE', key, ARGV[2 * i])
  else
    renewed[i] = 0
  end
end
return renewed
