// Per-worker IPv4 reassembly (fragment policy limit/reassemble). A bounded,
// set-associative table of incomplete datagrams keyed by (source, destination,
// id, protocol); each set holds its fragments' mbufs (no copy until complete).
// Own code rather than rte_ip_frag: rte_ip_frag frees overlapping or stale sets
// into a death row without saying why, and every fragment here must be counted
// under exactly one reason.
//
// Counting: every drop reason here counts FRAGMENTS (packets), like every other
// drop counter; the datagrams rebuilt are the event frag_reassembled.
//  - frag_overlap: a fragment overlaps one already held (duplicates included), or the
//    pieces disagree on where the datagram ends → the whole set is dropped.
//  - frag_oversize: the datagram would exceed max_datagram (or what one reassembly
//    mbuf holds, or 65535) → the whole set is dropped.
//  - frag_too_many: more than max_fragments pieces → the whole set is dropped.
//  - frag_table_full: a fragment of a new datagram while every way of its table set
//    holds a live, incomplete datagram, or any fragment while the worker already holds
//    its share of the receive pool (held_limit: a quarter of the pool split between
//    workers, so held fragments can never starve rx) → that fragment is dropped; held
//    sets are never evicted early (a flood cannot flush legitimate datagrams), they time out.
//    Also when the rebuild pool has no mbuf for a completed set (its fragments, each).
//  - frag_timeout: an incomplete set `timeout_ms` after its first fragment.
//  - malformed_l3: a non-last fragment whose payload is not a multiple of 8 bytes.
#pragma once
#include <cstdint>
#include <string>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/counters.h"
#include "common/defense_config.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

constexpr uint32_t kFragSetWays = 8;
constexpr uint64_t kFragScanIntervalUs = 100000;  // expiry scan period while anything is held
constexpr uint32_t kFragScanMinSlice = 4096;       // sets looked at per scan, at least

struct FragPiece {
  rte_mbuf* m;
  uint16_t offset;  // payload bytes from the start of the datagram's payload
  uint16_t length;  // payload bytes in this fragment
  uint16_t payload_at;  // where its payload starts in the mbuf's data
  uint8_t l2_len;       // where its IP header starts
};

struct FragSet {
  uint32_t src, dst;  // network order
  uint16_t id;        // network order
  uint8_t protocol;
  bool in_use;
  uint16_t count;       // pieces held
  uint8_t has_first;    // offset 0 seen
  uint8_t has_last;     // MF clear seen: `total` known
  uint32_t total;       // payload bytes of the whole datagram (once has_last)
  uint32_t received;    // payload bytes held
  uint64_t expires_us;
};

struct ReassemblyTable {
  FragSet* sets = nullptr;      // capacity entries, grouped in ways of kFragSetWays
  FragPiece* pieces = nullptr;  // capacity * max_fragments
  uint32_t capacity = 0;
  uint32_t set_bits = 0;
  uint32_t max_fragments = kDefaultFragMaxFragments;
  uint32_t max_datagram = kDefaultFragMaxDatagram;  // effective: also bounded by the pool's mbuf room
  uint64_t timeout_us = kDefaultFragTimeoutMs * 1000ull;
  rte_mempool* pool = nullptr;  // where a rebuilt datagram is copied to
  uint32_t live = 0;            // sets in use
  uint32_t held = 0;            // fragments (receive-pool mbufs) held by all sets
  uint32_t held_limit = 0;
  uint64_t next_scan_us = 0;
  uint32_t scan_cursor = 0;     // where the next expiry slice starts
};

// capacity rounded up to a power of two >= kFragSetWays. pool: mbufs big enough for
// max_datagram + Ethernet (the effective limit is lowered to what they hold). False on
// allocation failure (*error says what).
// rx_pool/workers: the receive pool fragments come from and how many workers share it.
bool reassembly_init(ReassemblyTable* t, const FragTableConfig& cfg, rte_mempool* pool, rte_mempool* rx_pool,
                     uint16_t workers, int socket_id, std::string* error);
// Frees every held fragment (uncounted: the worker is going away).
void reassembly_destroy(ReassemblyTable* t);

// A fragment (p: parsed through IPv4) enters. Returns the rebuilt datagram (a new
// single-segment mbuf: Ethernet + first fragment's IP header + the whole payload, IP
// header checksum valid) when this fragment completed its set; null when the fragment
// is held or was dropped (freed and counted).
rte_mbuf* reassembly_input(ReassemblyTable* t, WorkerCounters* counters, rte_mbuf* m, const ParsedPacket& p,
                           uint64_t now_us);

// Discards incomplete sets past their timeout (frag_timeout). Cheap when nothing is held
// or the next scan is not due.
void reassembly_run_timers(ReassemblyTable* t, WorkerCounters* counters, uint64_t now_us);

}  // namespace pc
