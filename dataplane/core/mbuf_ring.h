// Teardown of an rte_ring that carries mbufs (ring ports, worker hand-off rings):
// whatever is still queued goes back to its pool before the ring is freed.
#pragma once
#include <rte_mbuf.h>
#include <rte_ring.h>

namespace pc {

inline void drain_and_free_mbuf_ring(rte_ring* ring) {
  if (!ring) return;
  void* objs[64];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(ring, objs, 64, nullptr)) > 0)
    for (unsigned i = 0; i < n; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
  rte_ring_free(ring);
}

}  // namespace pc
