#!/usr/bin/env bash
# Runs the uvu suites (default: all) through scripts/run-uvu.sh, which ends with the line CI reads
# (`N passed, N failed, N skipped`) and exits non-zero when anything failed.
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

exec bash scripts/run-uvu.sh test "$pattern"
