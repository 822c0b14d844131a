#!/usr/bin/env bash
# Builds the libFuzzer target over the whole pipeline (dataplane/fuzz) with clang and runs it for a
# bounded time. Needs clang + libclang-rt-14-dev (installed here when missing; npm test never needs
# them). Prints the figures to record: executions, corpus size, crashes (artifacts in build-fuzz/).
# Usage: scripts/fuzz.sh [seconds, default 60]   Env: FUZZ_JOBS (parallel fuzzers, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang and libclang-rt-14-dev" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi

CXX=clang++ cmake -S dataplane/fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null

mkdir -p build-fuzz/corpus build-fuzz/artifacts
[ -n "$(ls -A build-fuzz/corpus)" ] || npx tsx scripts/fuzz-seeds.ts build-fuzz/corpus 200 >&2

log=build-fuzz/last-run.log
# detect_leaks=0: DPDK's EAL memory lives for the whole process by design; pool leaks are checked
# by the target itself (mbufs in use must be 0 after every input).
set +e
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ./build-fuzz/pipeline_fuzz \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus >"$log" 2>&1
status=$?
set -e
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
crashes=$(ls build-fuzz/artifacts | grep -cE '^(crash|leak|timeout|oom)-' || true)
echo "fuzz: ${seconds}s, ${execs} inputs executed, corpus $(ls build-fuzz/corpus | wc -l), crashes ${crashes} (exit ${status}; log ${log})"
[ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]
