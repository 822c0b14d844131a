// Per-worker transmit buffers, one per port (l3fwd style): the pipeline pushes
// packets by port INDEX (position in the started port list); a buffer is sent
// when it fills and at the end of every loop iteration. The unsent tail of a tx
// burst is freed and counted as TX_FULL.
//
// With several workers the pipeline may also hand a packet to another worker
// (push_to_worker): a client packet of a NAT or persistent service that only its
// owner may open a connection for, a datagram rebuilt from fragments on a worker
// that does not own its connection. Those leave through the core's worker rings
// (core/redirect.h), staged here and enqueued with the ports' buffers.
#pragma once
#include <cstdint>
#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
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

  // Several workers: to[j] is the ring this worker fills for worker j (null on the diagonal).
  void set_worker_rings(uint16_t self, uint16_t count, rte_ring* const* to) {
    worker_self_ = self;
    worker_count_ = count;
    for (uint16_t j = 0; j < count && j < kMaxWorkers; j++) {
      worker_rings_[j] = to[j];
      worker_staged_count_[j] = 0;
    }
  }
  uint16_t worker_self() const { return worker_self_; }
  uint16_t worker_count() const { return worker_count_; }
  // False while the core processes packets another worker handed over: a packet is handed
  // at most once, so two workers running different snapshots for a moment never bounce one.
  void set_hand_off_allowed(bool allowed) { hand_off_allowed_ = allowed; }
  // Whether push_to_worker(owner, ...) may take a packet now.
  inline bool can_hand_to(int owner) const {
    return hand_off_allowed_ && owner >= 0 && owner < worker_count_ && owner != worker_self_ &&
           worker_rings_[owner] != nullptr;
  }
  // Takes ownership of m; the caller checked can_hand_to(owner). The owner processes it as
  // received on port index in_port (event REDIRECTED_OUT; a full ring drops REDIRECT_RING_FULL).
  inline void push_to_worker(uint16_t owner, uint16_t in_port, rte_mbuf* m) {
    m->port = in_port;
    worker_staged_[owner][worker_staged_count_[owner]++] = m;
    if (worker_staged_count_[owner] == kTxBurst) flush_worker(owner);
  }

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
    if (worker_count_ > 1)
      for (uint16_t j = 0; j < worker_count_; j++)
        if (worker_staged_count_[j]) flush_worker(j);
    for (uint16_t i = 0; i < port_count_; i++)
      if (count_[i]) flush_port(i);
    for (uint16_t i = 0; i < port_count_; i++)
      if (count_[kMaxPorts + i]) flush_port(static_cast<uint16_t>(kMaxPorts + i));
  }

  inline void flush_worker(uint16_t j) {
    uint16_t n = worker_staged_count_[j];
    unsigned sent = rte_ring_sp_enqueue_burst(worker_rings_[j], reinterpret_cast<void**>(worker_staged_[j]), n, nullptr);
    counters_->event(Event::REDIRECTED_OUT, sent);
    for (unsigned k = sent; k < n; k++) {
      rte_pktmbuf_free(worker_staged_[j][k]);
      counters_->drop(DropReason::REDIRECT_RING_FULL);
    }
    worker_staged_count_[j] = 0;
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
  uint16_t worker_self_ = 0;
  uint16_t worker_count_ = 1;
  bool hand_off_allowed_ = true;
  rte_ring* worker_rings_[kMaxWorkers] = {};
  uint16_t worker_staged_count_[kMaxWorkers] = {};
  rte_mbuf* worker_staged_[kMaxWorkers][kTxBurst] = {};
};

}  // namespace pc
