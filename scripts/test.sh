#!/usr/bin/env bash
# Runs the uvu suites (default: all) through scripts/run-uvu.sh, which ends with the line CI reads
# (`N passed, N failed, N skipped`) and exits non-zero when anything failed.
# Usage: scripts/test.sh [unit|packet|api|e2e ...]  (default: all)
#
# The whole run goes in two lanes at once: the lab suites (e2e, one lab at a time) in one, the
# unit, golden-packet and api suites (in-process EAL on ring ports, daemons without hugepages in
# temp dirs, nothing shared with the lab) in the other. Both mostly wait (on namespaces, daemons
# starting, timeouts), so on the 2-core CI box the pair takes about as long as the lab lane alone.
# The lab lane streams; the other lane's output follows it, then one closing line for both.
set -uo pipefail
cd "$(dirname "$0")/.."

# Leftovers from a crashed run would make the lab tests fail for the wrong reason.
if [ "$(id -u)" -eq 0 ] && [ -f dist/src/cli/portcullis.js ]; then
  node dist/src/cli/portcullis.js lab down >/dev/null 2>&1 || true
fi

pattern_of() { echo "^($(IFS='|'; echo "$*"))/.*\.test\.ts$"; }

if [ $# -gt 0 ]; then
  exec bash scripts/run-uvu.sh test "$(pattern_of "$@")"
fi

other=$(mktemp)
lab=$(mktemp)
trap 'rm -f "$other" "$lab"' EXIT
bash scripts/run-uvu.sh test "$(pattern_of unit packet api)" >"$other" 2>&1 &
other_pid=$!
bash scripts/run-uvu.sh test "$(pattern_of e2e)" 2>&1 | tee "$lab"
lab_status=${PIPESTATUS[0]}
wait "$other_pid"
other_status=$?
echo
echo "── unit, packet and api suites (run beside the lab suites) ──"
cat "$other"

# Each lane ends with "N passed, N failed, N skipped"; the closing line adds them up.
# count FILE WORD DEFAULT: the lane's number of WORD, or DEFAULT when its closing line is missing.
count() { local n; n=$(tail -n 1 "$1" | grep -oE "^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+'); echo "${n:-$3}"; }
passed=$(( $(count "$lab" passed 0) + $(count "$other" passed 0) ))
failed=$(( $(count "$lab" failed 1) + $(count "$other" failed 1) ))
skipped=$(( $(count "$lab" skipped 0) + $(count "$other" skipped 0) ))
if [ "$lab_status" -ne 0 ] || [ "$other_status" -ne 0 ]; then
  [ "$failed" -eq 0 ] && failed=1  # a lane that failed without counting a test still fails the run
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$lab_status" -eq 0 ] && [ "$other_status" -eq 0 ]
