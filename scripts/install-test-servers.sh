#!/usr/bin/env bash
# Installs the servers the backend tests start as child processes (redis-server, etcd, PostgreSQL,
# MariaDB; gcc for testkit's clock-shift preload library), with apt, only what is missing.
# Idempotent and quiet; a second run does nothing. The distributions' own services are stopped and kept from starting at boot, because
# testkit starts private instances on free ports and needs nothing listening on the default ones.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have redis-server || need+=(redis-server redis-tools)
have etcd || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
have mariadbd || have /usr/sbin/mariadbd || need+=(mariadb-server)
have cc || need+=(gcc)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-servers: missing ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi

# keep package scripts from starting services during the install
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
echo "install-test-servers: installing ${need[*]}" >&2
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

for service in redis-server etcd postgresql mariadb; do
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  service "$service" stop >/dev/null 2>&1 || true
done
echo "install-test-servers: done" >&2
