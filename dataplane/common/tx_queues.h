// Per-worker transmit buffers, one per port (l3fwd style): the pipeline pushes
// packets by port INDEX (position in the started port list); a buffer is sent
// when it fills and at the end of every loop iteration. The unsent tail of a tx
// burst is freed and counted as TX_FULL.
#pragma once
#include <cstdint>
#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include "common/config.h"
#include "common/counters.h"

namespace pc {

constexpr uint16_t kTxBurst = 32;

class TxQueues;
// Sees every burst just before it is handed to the port (slot: port index, or kMaxPorts +
// port index for an exception tap). The packet capture's OUT copies (pipeline/capture.h)
// come from here: the frames exactly as they leave.
using TxTap = void (*)(void* context, TxQueues& tx, uint16_t slot, rte_mbuf* const* packets, uint16_t n);

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

  // Exception path (DESIGN.md §3): the kernel interface (tap) of port index i, whose
  // frames the pipeline punts with push_exception(). Its buffer lives in slot kMaxPorts + i.
  void set_exception(uint16_t port_index, uint16_t tap_port_id) {
    if (port_index >= kMaxPorts) return;
    port_ids_[kMaxPorts + port_index] = tap_port_id;
    has_exception_[port_index] = true;
    count_[kMaxPorts + port_index] = 0;
  }
  inline bool has_exception(uint16_t port_index) const {
    return port_index < kMaxPorts && has_exception_[port_index];
  }
  uint16_t exception_port_id(uint16_t port_index) const { return port_ids_[kMaxPorts + port_index]; }
  // Takes ownership of m; the caller checked has_exception(port_index).
  inline void push_exception(uint16_t port_index, rte_mbuf* m) {
    uint16_t slot = static_cast<uint16_t>(kMaxPorts + port_index);
    buf_[slot][count_[slot]++] = m;
    if (count_[slot] == kTxBurst) flush_port(slot);
  }

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
    for (uint16_t i = 0; i < port_count_; i++)
      if (count_[kMaxPorts + i]) flush_port(static_cast<uint16_t>(kMaxPorts + i));
  }

  // Installs (or, with null, removes) the tap. Worker thread only.
  void set_tap(TxTap tap, void* context) {
    tap_ = tap;
    tap_context_ = context;
  }
  bool has_tap() const { return tap_ != nullptr; }

  inline void flush_port(uint16_t i) {
    uint16_t n = count_[i];
    if (unlikely(tap_ != nullptr)) tap_(tap_context_, *this, i, buf_[i], n);  // null unless a capture ran
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
  TxTap tap_ = nullptr;
  void* tap_context_ = nullptr;
  // Slots 0..kMaxPorts-1: data ports; kMaxPorts + i: the exception tap of port i.
  uint16_t port_ids_[2 * kMaxPorts] = {};
  uint16_t count_[2 * kMaxPorts] = {};
  rte_mbuf* buf_[2 * kMaxPorts][kTxBurst] = {};
  bool has_exception_[kMaxPorts] = {};
};

}  // namespace pc
