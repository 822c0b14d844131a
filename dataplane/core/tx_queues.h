// Per-worker transmit buffers, one per port (l3fwd style): the pipeline pushes
// packets by port INDEX (position in the started port list); a buffer is sent
// when it fills and at the end of every loop iteration. The unsent tail of a tx
// burst is freed and counted as TX_FULL.
#pragma once
#include <cstdint>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include "core/config.h"
#include "core/counters.h"

namespace pc {

constexpr uint16_t kTxBurst = 32;

class TxQueues {
 public:
  // port_ids[i] is the DPDK port id of port index i; queue is this worker's tx queue.
  void init(const uint16_t* port_ids, uint16_t port_count, uint16_t queue, WorkerCounters* counters) {
    port_count_ = port_count;
    queue_ = queue;
    counters_ = counters;
    for (uint16_t i = 0; i < port_count; i++) {
      port_ids_[i] = port_ids[i];
      count_[i] = 0;
    }
  }

  uint16_t port_count() const { return port_count_; }

  // Takes ownership of m. Out-of-range port index: freed and counted (a bug upstream).
  inline void push(uint16_t port_index, rte_mbuf* m) {
    if (port_index >= port_count_) {
      rte_pktmbuf_free(m);
      counters_->drop(DropReason::TX_FULL);
      return;
    }
    buf_[port_index][count_[port_index]++] = m;
    if (count_[port_index] == kTxBurst) flush_port(port_index);
  }

  inline void flush_all() {
    for (uint16_t i = 0; i < port_count_; i++)
      if (count_[i]) flush_port(i);
  }

  inline void flush_port(uint16_t i) {
    uint16_t n = count_[i];
    uint16_t sent = rte_eth_tx_burst(port_ids_[i], queue_, buf_[i], n);
    counters_->event(Event::TX_PACKETS, sent);
    for (uint16_t k = sent; k < n; k++) {
      rte_pktmbuf_free(buf_[i][k]);
      counters_->drop(DropReason::TX_FULL);
    }
    count_[i] = 0;
  }

 private:
  uint16_t port_count_ = 0;
  uint16_t queue_ = 0;
  WorkerCounters* counters_ = nullptr;
  uint16_t port_ids_[kMaxPorts] = {};
  uint16_t count_[kMaxPorts] = {};
  rte_mbuf* buf_[kMaxPorts][kTxBurst] = {};
};

}  // namespace pc
