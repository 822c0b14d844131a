#!/usr/bin/env bash
# Runs every uvu suite in one process (golden-packet suites share one EAL) and
# ends with uvu's summary plus the plain `N passed, N failed` line CI reads.
# Usage: scripts/test.sh [unit|packet|api|e2e ...]  (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."

dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=(unit packet api e2e)
pattern="^($(IFS='|'; echo "${dirs[*]}"))/.*\.test\.ts$"

# Leftovers from a crashed run would make the lab tests fail for the wrong reason.
if [ "$(id -u)" -eq 0 ] && [ -f dist/src/cli/portcullis.js ]; then
  node dist/src/cli/portcullis.js lab down >/dev/null 2>&1 || true
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# A hung suite must not hang CI: bound the whole run.
NO_COLOR=1 FORCE_COLOR=0 timeout --kill-after=20 "${PORTCULLIS_TEST_TIMEOUT:-900}" \
  npx uvu -r tsx test "$pattern" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

total=$(grep -E '^ *Total:' "$out" | tail -1 | grep -oE '[0-9]+' || true)
passed=$(grep -E '^ *Passed:' "$out" | tail -1 | grep -oE '[0-9]+' || true)
if [ -z "$total" ] || [ -z "$passed" ]; then
  echo "test run ended without a uvu summary (exit $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
failed=$((total - passed))
skipped=$(grep -E '^ *Skipped:' "$out" | tail -1 | grep -oE '[0-9]+' || echo 0)
failed=$((failed - skipped))
[ "$failed" -lt 0 ] && failed=0
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
exit "$status"
