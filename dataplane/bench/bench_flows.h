// The scenarios of bench.h that model real traffic rather than a best case: `cold`
// (established FullNAT over a table of a million live connections, random flows, headers
// not in cache) and `connections` (whole TCP connections, expiry included). IPv4.
#pragma once
#include <vector>
#include "bench/bench.h"

namespace pc {

// bench_run for BenchScenario::COLD and BenchScenario::CONNECTIONS.
Status bench_run_flows(Dataplane& dataplane, const BenchOptions& options, BenchResult* result);

// Sorts per-chunk figures and stores their median, 10th and 90th percentiles and count.
void bench_summarise_chunks(std::vector<double>* figures, BenchResult* result);

}  // namespace pc
