#!/usr/bin/env bash
# Runs uvu over the test files under DIR whose path (relative to DIR) matches PATTERN, all in one
# process (golden-packet suites share one EAL), prints uvu's output, and ends with the line CI reads:
#   N passed, N failed, N skipped
# Exit status 0 only when nothing failed: no failed test, a uvu summary present, uvu's own status 0,
# the process ended by itself, and at least one test ran.
# uvu's "Total" counts the tests that ran (skips excluded), so failed = Total - Passed.
# Usage: scripts/run-uvu.sh DIR PATTERN   (scripts/test.sh uses it; so does its self-test)
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: run-uvu.sh DIR PATTERN}
pattern=${2:?usage: run-uvu.sh DIR PATTERN}
limit=${PORTCULLIS_TEST_TIMEOUT:-1200}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# A hung suite must not hang CI: bound the whole run.
NO_COLOR=1 FORCE_COLOR=0 timeout --kill-after=20 "$limit" npx uvu -r tsx "$dir" "$pattern" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

summary() { grep -E "^ *$1:" "$out" | tail -1 | grep -oE '[0-9]+' | head -1; }
total=$(summary Total)
passed=$(summary Passed)
skipped=$(summary Skipped)

if [ -z "$total" ] || [ -z "$passed" ] || [ -z "$skipped" ]; then
  echo "FAILED: the run ended without uvu's summary (exit $status): a test file did not load, or the process died"
  echo "${passed:-0} passed, 1 failed, ${skipped:-0} skipped"
  exit 1
fi

failed=$((total - passed))
problems=()
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  problems+=("the run was stopped after ${limit} s (a suite hung, or left a handle open after its tests)")
elif [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  problems+=("uvu exited with status $status although every counted test passed (see the ✘ lines above)")
fi
if [ ${#problems[@]} -eq 0 ] && [ "$total" -eq 0 ] && [ "$skipped" -eq 0 ]; then
  problems+=("no test ran: nothing under $dir matched $pattern")
fi
for problem in "${problems[@]}"; do
  echo "FAILED: $problem"
  failed=$((failed + 1))
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
