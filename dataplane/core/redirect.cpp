#include "core/redirect.h"

#include "core/mbuf_ring.h"
#include <cstdio>
#include <rte_arp.h>
#include <rte_errno.h>
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>

namespace pc {

namespace {

// An answer that teaches a neighbour table: an ARP reply, or an IPv6 neighbour
// advertisement (ICMPv6 type 136 right after the IPv6 header, as every NA is sent; one
// behind extension headers stays with the worker that received it). The event its
// copies count, or Event::COUNT for anything else.
Event neighbour_answer_event(const rte_mbuf* m) {
  constexpr uint8_t kNeighbourAdvertisement = 136;
  if (m->nb_segs != 1) return Event::COUNT;
  const uint32_t len = rte_pktmbuf_data_len(m);
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (len >= sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) && eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
    const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    return arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY) ? Event::ARP_REPLIES_SHARED : Event::COUNT;
  }
  if (len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 1 && eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
    const auto* ip6 = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
    const uint8_t type = *reinterpret_cast<const uint8_t*>(ip6 + 1);
    return ip6->proto == IPPROTO_ICMPV6 && type == kNeighbourAdvertisement ? Event::ND_ADVERTISEMENTS_SHARED : Event::COUNT;
  }
  return Event::COUNT;
}

// Every packet put in a ring counts REDIRECTED_OUT (replies and ARP copies alike, so
// that once the rings are drained redirected_out == redirected_in).
void flush(WorkerRedirect& r, uint16_t to, WorkerCounters& counters) {
  uint16_t n = r.staged_count[to];
  if (n == 0) return;
  unsigned sent = rte_ring_sp_enqueue_burst(r.to[to], reinterpret_cast<void**>(r.staged[to]), n, nullptr);
  counters.event(Event::REDIRECTED_OUT, sent);
  for (unsigned k = sent; k < n; k++) {
    rte_pktmbuf_free(r.staged[to][k]);
    counters.drop(DropReason::REDIRECT_RING_FULL);
  }
  r.staged_count[to] = 0;
}

void stage(WorkerRedirect& r, uint16_t to, rte_mbuf* m, WorkerCounters& counters) {
  r.staged[to][r.staged_count[to]++] = m;
  if (r.staged_count[to] == kRedirectBurst) flush(r, to, counters);
}

// Copies an ARP reply or NA to every other worker (a copy each: the pipeline trims and may
// rewrite a frame in place, so workers never share one mbuf).
void share_neighbour_answer(WorkerRedirect& r, const rte_mbuf* m, uint16_t in_port, Event shared,
                            WorkerCounters& counters) {
  for (uint16_t w = 0; w < r.count; w++) {
    if (w == r.self) continue;
    rte_mbuf* copy = rte_pktmbuf_copy(m, r.pool, 0, UINT32_MAX);
    if (!copy) {
      counters.drop(DropReason::MBUF_ALLOC_FAILED);
      continue;
    }
    copy->port = in_port;
    counters.event(shared);
    stage(r, w, copy, counters);
  }
}

}  // namespace

Status RedirectRings::init(uint16_t workers, unsigned instance) {
  destroy();
  if (workers <= 1) return Status::Ok();
  workers_ = workers;
  rings_.assign(static_cast<size_t>(workers) * workers, nullptr);
  for (uint16_t from = 0; from < workers; from++) {
    for (uint16_t to = 0; to < workers; to++) {
      if (from == to) continue;
      char name[RTE_RING_NAMESIZE];
      snprintf(name, sizeof(name), "pcrd%u_%u_%u", instance, from, to);
      rte_ring* ring = rte_ring_create(name, kRedirectRingSlots, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (!ring) {
        int err = rte_errno;
        destroy();
        return Status::Error("NOMEM", std::string("redirect ring ") + name + ": " + rte_strerror(err));
      }
      rings_[static_cast<size_t>(from) * workers + to] = ring;
    }
  }
  return Status::Ok();
}

void RedirectRings::attach(uint16_t worker, rte_mempool* pool, WorkerRedirect* out) const {
  out->self = worker;
  out->count = workers_ > 1 ? workers_ : 1;
  out->pool = pool;
  for (uint16_t other = 0; other < workers_; other++) {
    out->to[other] = rings_[static_cast<size_t>(worker) * workers_ + other];
    out->from[other] = rings_[static_cast<size_t>(other) * workers_ + worker];
    out->staged_count[other] = 0;
  }
}

void RedirectRings::destroy() {
  for (rte_ring* ring : rings_) drain_and_free_mbuf_ring(ring);
  rings_.clear();
  workers_ = 0;
}

uint16_t redirect_split(WorkerRedirect& r, WorkerCounters& counters, const Snapshot* s, uint16_t in_port,
                        rte_mbuf** pkts, uint16_t n) {
  uint16_t kept = 0;
  bool staged = false;
  for (uint16_t i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    int owner = packet_owner_worker(s, m, r.count);
    if (owner >= 0 && owner != r.self) {
      m->port = in_port;
      stage(r, static_cast<uint16_t>(owner), m, counters);
      staged = true;
      continue;
    }
    if (owner < 0) {
      const Event shared = neighbour_answer_event(m);
      if (shared != Event::COUNT) {
        share_neighbour_answer(r, m, in_port, shared, counters);
        staged = true;
      }
    }
    pkts[kept++] = m;
  }
  if (staged)
    for (uint16_t w = 0; w < r.count; w++) flush(r, w, counters);
  return kept;
}

uint32_t redirect_drain(WorkerRedirect& r, Worker* worker, WorkerCounters& counters, const Snapshot* s,
                        uint64_t now_us, TxQueues& tx) {
  rte_mbuf* pkts[kRedirectBurst];
  uint32_t total = 0;
  for (uint16_t from = 0; from < r.count; from++) {
    if (from == r.self) continue;
    unsigned n = rte_ring_sc_dequeue_burst(r.from[from], reinterpret_cast<void**>(pkts), kRedirectBurst, nullptr);
    if (n == 0) continue;
    counters.event(Event::REDIRECTED_IN, n);
    total += n;
    // What was handed over is never handed on (TxQueues::set_hand_off_allowed).
    tx.set_hand_off_allowed(false);
    // Runs of packets from the same port go to the pipeline as one burst.
    unsigned start = 0;
    while (start < n) {
      uint16_t port = pkts[start]->port;
      unsigned end = start + 1;
      while (end < n && pkts[end]->port == port) end++;
      worker_process_burst(worker, s, port, pkts + start, static_cast<uint16_t>(end - start), now_us, tx);
      start = end;
    }
    tx.set_hand_off_allowed(true);
  }
  return total;
}

}  // namespace pc
