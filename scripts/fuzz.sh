#!/usr/bin/env bash
# Runs every go test -fuzz target of the repository for FUZZTIME each (default 10m), JOBS at a time (default
# 2), one worker each, and prints a line per target: its last exec count and whether it passed. A crasher is
# left in the package's testdata/fuzz/<Target>/ by go test, where the next `go test` runs it as a seed.
# It exits 1 if any target failed.
#   scripts/fuzz.sh               # make fuzz
#   FUZZTIME=5s scripts/fuzz.sh   # make test
#   FUZZTIME=90s JOBS=1 scripts/fuzz.sh
set -euo pipefail
FUZZTIME=${FUZZTIME:-10m}
JOBS=${JOBS:-2}
LOGS=${LOGS:-out/fuzz}
mkdir -p "$LOGS"
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./.cache' | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    echo "$pkg $target"
  done
done | xargs -P "$JOBS" -L 1 bash -c '
  pkg=$0 target=$1 log="'"$LOGS"'/$(echo "${pkg#./}" | tr / _)-$1.log"
  # -timeout past the fuzz time: go test'"'"'s default (10m) would end a 10m run as it finishes.
  # -fuzzminimizetime 5s: each input that widens coverage is minimized first, for up to 60 s by default;
  # the schemas targets, whose inputs are kilobytes of Arrow IPC, spent most of a 10m run minimizing.
  if go test -run "^$" -fuzz "^$target\$" -fuzztime "'"$FUZZTIME"'" -fuzzminimizetime 5s -timeout 2h -parallel 1 "$pkg" >"$log" 2>&1; then res=pass
  elif grep -q "Failing input written" "$log"; then res="FAIL: crasher $(grep -o "testdata/fuzz/[^ ]*" "$log" | head -1)"
  elif grep -q "context deadline exceeded" "$log" && ! grep -q "^    [a-z_]*\.go:[0-9]*:" "$log"; then
    res="pass (stopped at the deadline with no crasher: go.dev/issue/75804)"
  else res=FAIL; fi
  execs=$(grep -o "execs: [0-9]*" "$log" | tail -1 | cut -d" " -f2)
  echo "$pkg $target execs=${execs:-?} $res ($log)"
' | tee "$LOGS/results.txt"
! grep -q ' FAIL' "$LOGS/results.txt"
