// In-process pipeline benchmark on the two ring ports "outside" and "inside" of
// a test-mode start. Every scenario runs the same loop and the same "mirror"
// work (the simulated clients and servers turning each frame into its reply);
// they differ only in what sits between the rings: 'io' mirrors too (raw ring
// I/O, the floor), 'fullnat' runs worker_process_burst on established flows,
// 'synproxy' runs it on client SYNs to a synproxy service (each answered with a
// cookie SYN-ACK out of the outside port, which the client side turns back into
// a SYN: no state, so nothing else to recycle). Cycles from rte_rdtsc.
#pragma once
#include <cstdint>
#include "core/config.h"
#include "core/ports.h"
#include "core/status.h"
#include "core/worker_loop.h"

namespace pc {

enum class BenchScenario : uint8_t { IO, FULLNAT, SYNPROXY };

struct BenchOptions {
  BenchScenario scenario = BenchScenario::IO;
  uint64_t packets = 0;  // stop after the pipeline (or io stage) handled this many
  uint32_t flows = 1;
};

struct BenchResult {
  uint64_t packets = 0;
  uint64_t cycles = 0;
  uint64_t tsc_hz = 0;
  int64_t mbufs_leaked = 0;  // pool in-use after minus before; 0 unless something leaked
};

struct BenchEnv {
  WorkerContext* worker = nullptr;  // worker 0 (the caller's thread)
  Port* outside = nullptr;
  Port* inside = nullptr;
  uint16_t outside_index = 0;
  uint16_t inside_index = 0;
  rte_mempool* pool = nullptr;
  const DataplaneConfig* config = nullptr;  // the applied config (fullnat: its first service)
  uint64_t now_us = 0;
};

Status bench_run(const BenchEnv& env, const BenchOptions& options, BenchResult* result);

}  // namespace pc
