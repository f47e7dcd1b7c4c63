#!/usr/bin/env bash
# Fuzzes every fuzz target of the module (each func FuzzXxx in a _test.go
# file) for a bounded time, one after the other: go test -fuzz takes one
# target of one package per run. A target's seed corpus (its f.Add seeds
# and testdata/fuzz/FuzzXxx/) also runs in plain go test ./...; this adds
# new inputs. A failing input is written to testdata/fuzz/FuzzXxx/ of its
# package, where go test then runs it as a seed.
#
#   bin/fuzz.sh [FUZZTIME]
#
# FUZZTIME is go test's -fuzztime for each target: a duration such as 10s
# (the default, or $FUZZTIME) or a count of inputs such as 1000x. The
# targets use as many workers as GOMAXPROCS, all the cores unless it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${1:-${FUZZTIME:-10s}}

# git grep prints path:func FuzzXxx( for each target, in files not yet
# committed too.
targets=$(git grep --untracked -o -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go')
if [ -z "$targets" ]; then
  echo "no fuzz targets"; exit 1
fi
start=$SECONDS
while IFS= read -r line; do
  file=${line%%:*}
  name=${line#*:func }
  name=${name%(}
  echo "== fuzz $name in ./$(dirname "$file") for $FUZZTIME"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "./$(dirname "$file")"
done <<<"$targets"
echo "== fuzzed $(wc -l <<<"$targets") targets in $((SECONDS - start)) s"
