// Benchmark support (bench/bench.cpp): fills a worker's connection table with
// synthetic connections through the same record pool, hash entries and timer
// wheel the packet path uses, without packets. Lets the memory benchmark reach
// 1 M / 10 M connections without 150 LIPs' worth of lports, and the connection-listing
// tests a table of 1 M. Not for live use.
#pragma once
#include <cstdint>
#include "pipeline/pipeline.h"

namespace pc {

// Inserts up to count connections numbered first, first + 1, ... (distinct client and
// reply tuples per number, so tables filled with disjoint ranges hold no tuple twice; TCP,
// ESTABLISHED-style expiry far in the future; IPv6 addresses when ipv6). Returns how many
// went in; fewer than asked means the table refused one (full), which the caller reports.
uint32_t worker_fill_connections(Worker* worker, uint32_t count, uint64_t now_us, uint32_t first = 0, bool ipv6 = false);

}  // namespace pc
