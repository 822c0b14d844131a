#include "pipeline/defend/reassembly.h"

#include <cstring>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>

namespace pc {

namespace {

// reassembly_mark_handed: where the size lives in the mbuf, and the ol_flags bit saying it does.
int g_handed_size_offset = -1;
uint64_t g_handed_flag = 0;

bool register_handed_mark(std::string* error) {
  if (g_handed_flag) return true;
  static const rte_mbuf_dynfield field = {"pc_reassembled_from", sizeof(uint16_t), alignof(uint16_t), 0};
  static const rte_mbuf_dynflag flag = {"pc_reassembled_handed", 0};
  const int offset = rte_mbuf_dynfield_register(&field);
  const int bit = rte_mbuf_dynflag_register(&flag);
  if (offset < 0 || bit < 0) {
    *error = "worker: no room in the mbuf for the reassembled-size mark (rte_mbuf_dyn)";
    return false;
  }
  g_handed_size_offset = offset;
  g_handed_flag = 1ull << bit;
  return true;
}

constexpr uint32_t kMaxIpv4Payload = 65535 - 20;  // IPv4 total length is 16 bits, header included
constexpr uint32_t kMaxIpv6Payload = 65535;       // IPv6 payload length is 16 bits, header excluded

// What reassembly needs of one fragment, whichever its family.
struct FragmentView {
  IpAddr src, dst;
  uint32_t id;          // network order
  uint8_t protocol;
  bool ipv6;
  bool more;
  uint32_t offset;      // payload bytes
  uint32_t length;      // payload bytes
  uint32_t payload_at;  // from the mbuf's data start
  uint32_t kept;        // L2 + what a rebuild keeps of the IP headers
  uint32_t payload_limit;  // offset + length may not pass this (16-bit length fields)
  uint32_t header_bytes;   // IP header bytes the rebuilt datagram would carry besides the payload
};

FragmentView view_of(const rte_mbuf* m, const ParsedPacket& p) {
  FragmentView v;
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  if (p.ip6) {
    const uint8_t* ip6 = reinterpret_cast<const uint8_t*>(p.ip6);
    const uint8_t* fh = ip6 + p.ip6_fragment_at;  // next header, reserved, offset|M, identification
    uint16_t field = rte_be_to_cpu_16(load16(fh + 2));
    v.src = ip_from_v6(p.ip6->src_addr);
    v.dst = ip_from_v6(p.ip6->dst_addr);
    std::memcpy(&v.id, fh + 4, 4);
    v.protocol = fh[0];
    v.ipv6 = true;
    v.more = (field & 1) != 0;
    v.offset = field & 0xfff8u;  // 13-bit offset in 8-byte units, already shifted into bytes
    uint32_t unfragmentable = p.ip6_fragment_at;  // IPv6 header + extension headers before the Fragment header
    v.length = p.ip_total_len - (unfragmentable + 8);
    v.kept = static_cast<uint32_t>(ip6 - data) + unfragmentable;
    v.payload_at = v.kept + 8;
    v.payload_limit = kMaxIpv6Payload - (unfragmentable - sizeof(rte_ipv6_hdr));
    v.header_bytes = unfragmentable;
    return v;
  }
  const rte_ipv4_hdr* ip = p.ip;
  uint16_t field = rte_be_to_cpu_16(ip->fragment_offset);
  v.src = ip_from_v4(ip->src_addr);
  v.dst = ip_from_v4(ip->dst_addr);
  v.id = ip->packet_id;
  v.protocol = ip->next_proto_id;
  v.ipv6 = false;
  v.more = (field & RTE_IPV4_HDR_MF_FLAG) != 0;
  v.offset = static_cast<uint32_t>(field & RTE_IPV4_HDR_OFFSET_MASK) * 8;
  v.length = p.ip_total_len - p.ip_header_len;
  v.payload_at = static_cast<uint32_t>(reinterpret_cast<const uint8_t*>(ip) - data) + p.ip_header_len;
  v.kept = v.payload_at;
  v.payload_limit = kMaxIpv4Payload;
  v.header_bytes = sizeof(rte_ipv4_hdr);
  return v;
}

inline uint64_t address_mix(const IpAddr& a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a.bytes, 8);
  std::memcpy(&lo, a.bytes + 8, 8);
  return hi * 0xFF51AFD7ED558CCDull ^ lo;
}

inline uint32_t set_of(const ReassemblyTable& t, const FragmentView& v) {
  uint64_t key = address_mix(v.src) * 0x9E3779B97F4A7C15ull ^ address_mix(v.dst) ^
                 (static_cast<uint64_t>(v.id) << 8 | v.protocol) * 0xC2B2AE3D27D4EB4Full;
  key *= 0x9E3779B97F4A7C15ull;
  return t.set_bits ? static_cast<uint32_t>(key >> (64 - t.set_bits)) : 0;
}

inline bool same_datagram(const FragSet& set, const FragmentView& v) {
  return set.id == v.id && set.protocol == v.protocol && set.src == v.src && set.dst == v.dst;
}

inline FragPiece* pieces_of(ReassemblyTable* t, const FragSet* set) {
  return t->pieces + static_cast<size_t>(set - t->sets) * t->max_fragments;
}

inline void release(ReassemblyTable* t, FragSet* set) {
  t->held -= set->count;
  set->in_use = false;
  set->count = 0;
  t->live--;
}

// Frees every held fragment of the set, each counted under reason.
void drop_set(ReassemblyTable* t, WorkerCounters* counters, FragSet* set, DropReason reason) {
  FragPiece* pieces = pieces_of(t, set);
  for (uint16_t i = 0; i < set->count; i++) {
    rte_pktmbuf_free(pieces[i].m);
    counters->drop(reason);
  }
  release(t, set);
}

inline rte_mbuf* drop_one(WorkerCounters* counters, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  counters->drop(reason);
  return nullptr;
}

// The offset of the next-header byte that names the IPv6 header at `until` (the Fragment
// header's place): the fixed header's, or that of the extension header before it. The
// headers before it were walked and bounded by parse_ipv6.
uint32_t ipv6_next_header_field(const uint8_t* ip6, uint32_t until) {
  uint32_t field = 6;
  for (uint32_t at = sizeof(rte_ipv6_hdr); at < until; at += (ip6[at + 1] + 1u) * 8) field = at;
  return field;
}

// The set's pieces copied into one new mbuf: the first fragment's L2 and IP headers (IPv6:
// its unfragmentable part), then the payload in offset order (the pieces tile [0, total)
// exactly: no overlap was admitted).
rte_mbuf* rebuild(ReassemblyTable* t, WorkerCounters* counters, FragSet* set, uint16_t* largest_fragment) {
  FragPiece* pieces = pieces_of(t, set);
  const FragPiece* first = nullptr;
  for (uint16_t i = 0; i < set->count; i++)
    if (pieces[i].offset == 0) first = &pieces[i];
  const uint8_t* first_data = rte_pktmbuf_mtod(first->m, const uint8_t*);
  uint16_t headers = first->kept;  // L2 + the IP headers kept
  uint16_t l2_len = first->l2_len;
  uint32_t ip_headers = static_cast<uint32_t>(headers - l2_len);
  uint32_t datagram = ip_headers + set->total;
  bool too_long = set->ipv6 ? datagram - sizeof(rte_ipv6_hdr) > kMaxIpv6Payload : datagram > 65535;
  if (too_long || datagram > t->max_datagram) {
    drop_set(t, counters, set, DropReason::FRAG_OVERSIZE);
    return nullptr;
  }
  rte_mbuf* out = rte_pktmbuf_alloc(t->pool);
  if (!out) {  // the rebuild pool is part of the table's room
    drop_set(t, counters, set, DropReason::FRAG_TABLE_FULL);
    return nullptr;
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(out, static_cast<uint16_t>(headers + set->total)));
  if (!data) {  // cannot happen: max_datagram was lowered to what the pool's mbufs hold
    rte_pktmbuf_free(out);
    drop_set(t, counters, set, DropReason::FRAG_OVERSIZE);
    return nullptr;
  }
  std::memcpy(data, first_data, headers);
  for (uint16_t i = 0; i < set->count; i++) {
    const FragPiece& piece = pieces[i];
    std::memcpy(data + headers + piece.offset, rte_pktmbuf_mtod(piece.m, const uint8_t*) + piece.payload_at, piece.length);
  }
  out->port = first->m->port;
  if (set->ipv6) {
    uint8_t* ip6 = data + l2_len;
    ip6[ipv6_next_header_field(ip6, ip_headers)] = set->protocol;  // the Fragment header is gone
    reinterpret_cast<rte_ipv6_hdr*>(ip6)->payload_len =
        rte_cpu_to_be_16(static_cast<uint16_t>(datagram - sizeof(rte_ipv6_hdr)));
  } else {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + l2_len);
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(datagram));
    ip->fragment_offset = 0;  // whole again: no MF, no offset, and no DF (it was fragmented on its way)
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  }
  if (largest_fragment) *largest_fragment = set->largest;
  for (uint16_t i = 0; i < set->count; i++) rte_pktmbuf_free(pieces[i].m);
  counters->event(Event::FRAG_JOINED, set->count);
  release(t, set);
  counters->event(Event::FRAG_REASSEMBLED);
  return out;
}

}  // namespace

bool reassembly_init(ReassemblyTable* t, const FragTableConfig& cfg, rte_mempool* pool, rte_mempool* rx_pool,
                     uint16_t workers, int socket_id, std::string* error) {
  if (!register_handed_mark(error)) return false;
  uint32_t capacity = kFragSetWays;
  while (capacity < cfg.sets && capacity < kMaxFragTableSets) capacity <<= 1;
  uint32_t max_fragments = cfg.max_fragments ? cfg.max_fragments : 1;
  if (max_fragments > kMaxFragMaxFragments) max_fragments = kMaxFragMaxFragments;
  t->sets = static_cast<FragSet*>(rte_zmalloc_socket("pc_frag_sets", sizeof(FragSet) * capacity, RTE_CACHE_LINE_SIZE, socket_id));
  t->pieces = static_cast<FragPiece*>(
      rte_zmalloc_socket("pc_frag_pieces", sizeof(FragPiece) * capacity * max_fragments, RTE_CACHE_LINE_SIZE, socket_id));
  if (!t->sets || !t->pieces) {
    reassembly_destroy(t);
    *error = "worker: out of memory for the reassembly table (" + std::to_string(capacity) + " sets)";
    return false;
  }
  t->capacity = capacity;
  t->set_bits = 0;
  for (uint32_t sets = capacity / kFragSetWays; sets > 1; sets >>= 1) t->set_bits++;
  t->max_fragments = max_fragments;
  t->timeout_us = static_cast<uint64_t>(cfg.timeout_ms ? cfg.timeout_ms : 1) * 1000ull;
  t->pool = pool;
  uint32_t limit = cfg.max_datagram > kMaxFragMaxDatagram ? kMaxFragMaxDatagram : cfg.max_datagram;
  if (pool) {
    // A rebuilt frame is Ethernet (+ a VLAN tag at most) + the datagram, in one segment.
    uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
    uint32_t fits = room > 18 ? room - 18 : 0;
    if (limit > fits) limit = fits;
  }
  t->max_datagram = limit;
  t->live = 0;
  t->held = 0;
  uint32_t share = rx_pool ? rx_pool->size / 4 / (workers ? workers : 1) : UINT32_MAX;
  t->held_limit = share < 64 ? 64 : share;
  t->next_scan_us = 0;
  t->scan_cursor = 0;
  return true;
}

void reassembly_destroy(ReassemblyTable* t) {
  if (t->sets && t->pieces) {
    for (uint32_t i = 0; i < t->capacity; i++) {
      FragSet& set = t->sets[i];
      if (!set.in_use) continue;
      FragPiece* pieces = pieces_of(t, &set);
      for (uint16_t k = 0; k < set.count; k++) rte_pktmbuf_free(pieces[k].m);
    }
  }
  rte_free(t->sets);
  rte_free(t->pieces);
  *t = ReassemblyTable{};
}

rte_mbuf* reassembly_input(ReassemblyTable* t, WorkerCounters* counters, rte_mbuf* m, const ParsedPacket& p,
                           uint64_t now_us, uint16_t* largest_fragment) {
  if (!t->sets) return drop_one(counters, m, DropReason::FRAG_TABLE_FULL);
  const FragmentView v = view_of(m, p);
  if (v.length == 0 || (v.more && v.length % 8 != 0))
    return drop_one(counters, m, v.ipv6 ? DropReason::IPV6_MALFORMED : DropReason::MALFORMED_L3);
  uint32_t offset = v.offset, length = v.length, end = offset + length;

  // Find the datagram's set, reclaiming expired ways on the way past.
  uint32_t base = set_of(*t, v) * kFragSetWays;
  FragSet* set = nullptr;
  FragSet* free_way = nullptr;
  for (uint32_t i = 0; i < kFragSetWays; i++) {
    FragSet& way = t->sets[base + i];
    if (way.in_use && way.expires_us <= now_us) drop_set(t, counters, &way, DropReason::FRAG_TIMEOUT);
    if (!way.in_use) {
      if (!free_way) free_way = &way;
      continue;
    }
    if (same_datagram(way, v)) {
      set = &way;
      break;
    }
  }
  bool oversize = end > v.payload_limit || end + v.header_bytes > t->max_datagram;
  if (t->held >= t->held_limit && !oversize) return drop_one(counters, m, DropReason::FRAG_TABLE_FULL);
  if (!set) {
    if (oversize) return drop_one(counters, m, DropReason::FRAG_OVERSIZE);
    if (!free_way) return drop_one(counters, m, DropReason::FRAG_TABLE_FULL);
    set = free_way;
    *set = FragSet{};
    set->src = v.src;
    set->dst = v.dst;
    set->id = v.id;
    set->protocol = v.protocol;
    set->ipv6 = v.ipv6;
    set->in_use = true;
    set->expires_us = now_us + t->timeout_us;
    t->live++;
  }
  auto drop_with_set = [&](DropReason reason) {
    drop_set(t, counters, set, reason);
    return drop_one(counters, m, reason);
  };
  if (oversize) return drop_with_set(DropReason::FRAG_OVERSIZE);
  if (set->count >= t->max_fragments) return drop_with_set(DropReason::FRAG_TOO_MANY);
  FragPiece* pieces = pieces_of(t, set);
  uint32_t held_end = 0;
  for (uint16_t i = 0; i < set->count; i++) {
    uint32_t a = pieces[i].offset, b = a + pieces[i].length;
    if (offset < b && a < end) return drop_with_set(DropReason::FRAG_OVERLAP);
    if (b > held_end) held_end = b;
  }
  // Every piece must end where the last one says the datagram ends.
  if ((set->has_last && end > set->total) || (!v.more && (held_end > end || set->has_last)))
    return drop_with_set(DropReason::FRAG_OVERLAP);

  FragPiece& piece = pieces[set->count++];
  t->held++;
  piece.m = m;
  piece.offset = static_cast<uint16_t>(offset);
  piece.length = static_cast<uint16_t>(length);
  piece.payload_at = static_cast<uint16_t>(v.payload_at);
  piece.kept = static_cast<uint16_t>(v.kept);
  piece.l2_len = static_cast<uint8_t>(reinterpret_cast<const uint8_t*>(p.ip6 ? static_cast<const void*>(p.ip6)
                                                                               : static_cast<const void*>(p.ip)) -
                                      rte_pktmbuf_mtod(m, const uint8_t*));
  set->received += length;
  if (p.ip_total_len > set->largest) set->largest = p.ip_total_len;
  if (offset == 0) set->has_first = 1;
  if (!v.more) {
    set->has_last = 1;
    set->total = end;
  }
  if (!set->has_last || set->received != set->total) return nullptr;  // held
  return rebuild(t, counters, set, largest_fragment);
}

void reassembly_run_timers(ReassemblyTable* t, WorkerCounters* counters, uint64_t now_us) {
  if (t->live == 0 || now_us < t->next_scan_us) return;
  t->next_scan_us = now_us + kFragScanIntervalUs;
  // A slice per scan, sized so that a whole pass takes at most one timeout: a big table never
  // costs one long pause, and a set is discarded at most one timeout late (lookups reclaim
  // expired ways on their own too).
  uint64_t passes = t->timeout_us / kFragScanIntervalUs;
  uint32_t slice = passes > 1 ? static_cast<uint32_t>(t->capacity / passes) : t->capacity;
  if (slice < kFragScanMinSlice) slice = kFragScanMinSlice;
  for (uint32_t n = 0; n < slice && n < t->capacity && t->live; n++) {
    FragSet& set = t->sets[t->scan_cursor];
    if (set.in_use && set.expires_us <= now_us) drop_set(t, counters, &set, DropReason::FRAG_TIMEOUT);
    t->scan_cursor = t->scan_cursor + 1 == t->capacity ? 0 : t->scan_cursor + 1;
  }
}

void reassembly_mark_handed(rte_mbuf* m, uint16_t largest_fragment) {
  if (!largest_fragment) return;
  *RTE_MBUF_DYNFIELD(m, g_handed_size_offset, uint16_t*) = largest_fragment;
  m->ol_flags |= g_handed_flag;
}

uint16_t reassembly_take_handed_size(rte_mbuf* m) {
  if (!g_handed_flag || !(m->ol_flags & g_handed_flag)) return 0;
  m->ol_flags &= ~g_handed_flag;
  return *RTE_MBUF_DYNFIELD(m, g_handed_size_offset, uint16_t*);
}

}  // namespace pc
