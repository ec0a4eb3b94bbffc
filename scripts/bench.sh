#!/usr/bin/env bash
# Runs the JMH benchmarks, building benchmarks/target/benchmarks.jar first when it is missing or
# older than the sources. Every argument goes to JMH unchanged, e.g.
#   scripts/bench.sh LockEngineBenchmark -f 1 -wi 3 -i 5 -rf json -rff /tmp/engine.json
#   scripts/bench.sh -l          (list the benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
jar=benchmarks/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find pom.xml */pom.xml */src -newer "$jar" -type f -print -quit)" ]; then
  echo "building $jar ..." >&2
  mvn -B -q -pl benchmarks -am package -DskipTests >&2
fi
exec java -jar "$jar" "$@"
