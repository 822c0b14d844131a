#!/usr/bin/env bash
# `npm run test:asan`: builds the addon with ASan + UBSan into build-asan/ and runs the golden-packet
# suite against it, with the random-frame test at 10 M frames (PORTCULLIS_RANDOM_FRAMES overrides).
# Any sanitizer report ends the process, so the run fails without a uvu summary.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "asan: building the addon with -DPORTCULLIS_SANITIZE=ON into build-asan/" >&2
npx cmake-js compile --out build-asan --CDPORTCULLIS_SANITIZE=ON --log-level error >/dev/null

# node itself is not instrumented, so the ASan runtime must be loaded before anything else
# (else: "ASan runtime does not come first in initial library list"); UBSan's runtime likewise.
LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export LD_PRELOAD
export PORTCULLIS_ADDON_PATH="$PWD/build-asan/Release/portcullis_dataplane.node"
# detect_leaks=0: V8 and libuv deliberately keep allocations until exit, so LeakSanitizer would
# report node's own heap; leaks of packet buffers are checked by the tests (mbufsInUse at baseline).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PORTCULLIS_RANDOM_FRAMES="${PORTCULLIS_RANDOM_FRAMES:-10000000}"
export PORTCULLIS_TEST_TIMEOUT="${PORTCULLIS_TEST_TIMEOUT:-3600}"
exec bash scripts/test.sh packet
