#!/usr/bin/env bash
# The one command that runs every test: installs the test servers that are missing (when run as
# root; otherwise it says what to install), then builds and tests every module.
# Extra arguments go to Maven, e.g.  scripts/test.sh -pl testkit -am
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  scripts/install-test-servers.sh
else
  scripts/install-test-servers.sh || echo "test.sh: servers missing; backend tests will fail or skip" >&2
fi
mvn -B verify "$@"

# every server a fixture started lives under a temp dir named distkit-*: none may outlive the build
# (the processes that started this script are not leftovers, whatever their command line says, nor is a
# flock(1) waiting for a lock file of that name: a developer's build lock, not a server)
ancestors=" $$ "
p=$$
while [ "${p:-1}" -gt 1 ]; do
  p=$(ps -o ppid= -p "$p" | tr -d ' ')
  ancestors+="$p "
done
left=$(pgrep -af -- "/tmp/distkit-" | grep -v pgrep | while read -r pid rest; do
  case "$rest" in flock\ *) continue ;; esac
  case "$ancestors" in *" $pid "*) ;; *) echo "$pid $rest" ;; esac
done || true)
if [ -n "$left" ]; then
  echo "test.sh: server processes left behind by the tests:" >&2
  echo "$left" >&2
  exit 1
fi
