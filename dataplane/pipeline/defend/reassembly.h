// Per-worker reassembly of IPv4 and IPv6 datagrams (fragment policy limit/reassemble).
// A bounded, set-associative table of incomplete datagrams keyed by (source, destination,
// identification, protocol): IPv4's 16-bit id and protocol, or IPv6's 32-bit identification
// and the Fragment header's next header (RFC 8200 4.5); the two families never share a set
// (an IPv4 address is held IPv4-mapped). Each set holds its fragments' mbufs (no copy until complete).
// Own code rather than rte_ip_frag: rte_ip_frag frees overlapping or stale sets
// into a death row without saying why, and every fragment here must be counted
// under exactly one reason.
//
// Counting: every drop reason here counts FRAGMENTS (packets), like every other
// drop counter; the datagrams rebuilt are the event frag_reassembled.
//  - frag_overlap: a fragment overlaps one already held (duplicates included), or the
//    pieces disagree on where the datagram ends → the whole set is dropped.
//  - frag_oversize: the datagram would exceed max_datagram (or what one reassembly
//    mbuf holds), or IPv4's total length / IPv6's payload length would pass 65535
//    (RFC 8200 4.5) → the whole set is dropped.
//  - frag_too_many: more than max_fragments pieces → the whole set is dropped.
//  - frag_table_full: a fragment of a new datagram while every way of its table set
//    holds a live, incomplete datagram, or any fragment while the worker already holds
//    its share of the receive pool (held_limit: a quarter of the pool split between
//    workers, so held fragments can never starve rx) → that fragment is dropped; held
//    sets are never evicted early (a flood cannot flush legitimate datagrams), they time out.
//    Also when the rebuild pool has no mbuf for a completed set (its fragments, each).
//  - frag_timeout: an incomplete set `timeout_ms` after its first fragment.
//  - malformed_l3 (IPv4) / ipv6_malformed (IPv6): an empty fragment, or a non-last one whose
//    payload is not a multiple of 8 bytes.
// IPv6 overlaps are never resolved (RFC 5722): the whole datagram goes, as for IPv4.
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
  uint16_t offset;  // payload bytes from the start of the datagram's (fragmentable) payload
  uint16_t length;  // payload bytes in this fragment
  uint16_t payload_at;  // where its payload starts in the mbuf's data
  uint16_t kept;        // bytes before it that a rebuild keeps: L2 + IPv4 header, or L2 + IPv6's unfragmentable part
  uint8_t l2_len;       // where its IP header starts
};

struct FragSet {
  IpAddr src, dst;
  uint32_t id;          // network order: IPv4's 16 bits widened, or IPv6's 32
  uint8_t protocol;     // IPv4's protocol, or the IPv6 Fragment header's next header
  bool in_use;
  bool ipv6;
  uint8_t has_first;    // offset 0 seen
  uint8_t has_last;     // MF clear seen: `total` known
  uint16_t count;       // pieces held
  uint16_t largest;     // IP bytes of the biggest fragment held (IPv6 leaves in pieces no bigger)
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

// A fragment (p: parsed through IPv4, or through IPv6 with a Fragment header) enters.
// Returns the rebuilt datagram (a new single-segment mbuf) when this fragment completed its
// set; null when the fragment is held or was dropped (freed and counted).
//  IPv4: Ethernet + the first fragment's IP header + the whole payload, header checksum valid.
//  IPv6: Ethernet + the first fragment's IPv6 header and unfragmentable extension headers,
//  the Fragment header taken out (its next header written where it was named), then the
//  whole fragmentable part; *largest_fragment = IP bytes of the biggest fragment it came in.
rte_mbuf* reassembly_input(ReassemblyTable* t, WorkerCounters* counters, rte_mbuf* m, const ParsedPacket& p,
                           uint64_t now_us, uint16_t* largest_fragment = nullptr);

// With several workers a rebuilt datagram may go to the worker that owns its connection
// (worker.cpp): the size it came in travels with the mbuf (a dynamic field and flag,
// registered by reassembly_init), since the owner parses it afresh.
void reassembly_mark_handed(rte_mbuf* m, uint16_t largest_fragment);
// The largest_fragment a handed datagram carries (the mark cleared), 0 for any other mbuf.
uint16_t reassembly_take_handed_size(rte_mbuf* m);

// Discards incomplete sets past their timeout (frag_timeout). Cheap when nothing is held
// or the next scan is not due.
void reassembly_run_timers(ReassemblyTable* t, WorkerCounters* counters, uint64_t now_us);

}  // namespace pc
