// BENCHMARK MODE ONLY (bench/lab.ts): the data plane as a plain L2 bridge. Every frame
// received on port index i leaves unchanged by port index i^1, with no parsing, no
// tables and no counters beyond rx/tx. It measures the I/O ceiling of the very same
// ports, rx/tx bursts and polling loop that FullNAT runs on, so "FullNAT / bridge" is
// what the pipeline itself costs. Never used in production (dataplane.bench_mode).
#pragma once
#include <cstdint>
#include <rte_ethdev.h>
#include "core/worker_loop.h"

namespace pc {

// One rx sweep over every port, each frame pushed to the partner port's tx buffer;
// returns frames received. Does not flush tx. An odd last port has no partner: its
// frames are freed and counted (tx_full, as for any frame the tx side could not take).
inline uint32_t bench_bridge_poll_ports(WorkerContext& c) {
  rte_mbuf* pkts[kRxBurst];
  uint32_t total = 0;
  for (uint16_t p = 0; p < c.port_count; p++) {
    uint16_t n = rte_eth_rx_burst(c.port_ids[p], c.index, pkts, kRxBurst);
    if (n == 0) continue;
    c.counters->event(Event::RX_PACKETS, n);
    uint16_t partner = static_cast<uint16_t>(p ^ 1u);
    for (uint16_t i = 0; i < n; i++) c.tx.push(partner, pkts[i]);
    total += n;
  }
  return total;
}

}  // namespace pc
