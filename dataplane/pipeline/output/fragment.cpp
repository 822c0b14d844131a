#include "pipeline/output/fragment.h"

#include <cstring>
#include "pipeline/output/neigh.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint32_t kMaxOutFragments = 128;  // 65535 bytes at a 576-byte MTU

void out_failed(Worker* w, rte_mbuf* m, rte_mbuf** built, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) rte_pktmbuf_free(built[i]);
  rte_pktmbuf_free(m);
  w->counters->drop(DropReason::FRAG_OUT_FAILED);
}

// Every piece of m was built: m goes, the pieces leave by hop, counted once per datagram and per piece.
void send_fragments(Worker* w, const Snapshot& s, rte_mbuf* m, rte_mbuf** built, uint32_t count, const NextHop& hop,
                    uint64_t now_us, TxQueues& tx) {
  rte_pktmbuf_free(m);
  w->counters->event(Event::FRAG_REFRAGMENTED);
  w->counters->event(Event::FRAG_OUT_PIECES, count);
  for (uint32_t i = 0; i < count; i++) neigh_output(&w->neigh, s, built[i], hop.port_index, hop.gateway, now_us, tx);
}

constexpr uint8_t kNextHopByHop = 0, kNextRouting = 43, kNextFragment = 44, kNextDestOptions = 60;

// Bytes of the IPv6 unfragmentable part (RFC 8200 4.5): the fixed header, a hop-by-hop header,
// and routing headers with the destination options before them. *next_field: where the
// next-header byte naming what follows the part sits. The chain was bounded by parse_ipv6.
uint32_t ipv6_unfragmentable(const uint8_t* ip6, uint32_t header_len, uint32_t* next_field) {
  uint32_t field = 6, at = sizeof(rte_ipv6_hdr);
  for (uint8_t next = ip6[6]; at + 8 <= header_len;) {
    uint32_t len = (ip6[at + 1] + 1u) * 8;
    bool before_routing = next == kNextDestOptions && ip6[at] == kNextRouting;
    if (next != kNextHopByHop && next != kNextRouting && !before_routing) break;
    field = at;
    next = ip6[at];
    at += len;
  }
  *next_field = field;
  return at;
}

// A reassembled IPv6 datagram leaves again in fragments no bigger than the biggest it came in
// (nor than the port's MTU, which egress_mtu_fits already held it to), as the gateway is the
// source of the translated packet: a fresh identification, each piece with the unfragmentable
// part and a Fragment header.
void ipv6_output_fragments(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop,
                           uint32_t piece_limit, uint64_t now_us, TxQueues& tx) {
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint8_t* ip6 = reinterpret_cast<const uint8_t*>(p.ip6);
  uint32_t l2_len = static_cast<uint32_t>(ip6 - data);
  uint32_t total = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(p.ip6->payload_len);
  uint32_t next_field;
  uint32_t unfragmentable = ipv6_unfragmentable(ip6, p.ip_header_len, &next_field);
  uint8_t following = ip6[next_field];
  uint32_t payload = total - unfragmentable;
  uint32_t room = rte_pktmbuf_data_room_size(w->params.pool) - RTE_PKTMBUF_HEADROOM;
  if (piece_limit > room - l2_len) piece_limit = room - l2_len;
  rte_mbuf* built[kMaxOutFragments];
  uint32_t count = 0;
  if (piece_limit < unfragmentable + 8 + 8) return out_failed(w, m, built, 0);
  uint32_t chunk_max = (piece_limit - unfragmentable - 8) & ~7u;
  uint32_t id = rte_cpu_to_be_32(w->frag6_next_id);
  w->frag6_next_id += w->params.count;  // workers never hand out the same identification
  for (uint32_t offset = 0; offset < payload; count++) {
    if (count == kMaxOutFragments) return out_failed(w, m, built, count);
    uint32_t chunk = payload - offset;
    bool last = chunk <= chunk_max;
    if (!last) chunk = chunk_max;
    rte_mbuf* piece = rte_pktmbuf_alloc(w->params.pool);
    if (!piece) return out_failed(w, m, built, count);
    built[count] = piece;
    uint8_t* out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(piece, static_cast<uint16_t>(l2_len + unfragmentable + 8 + chunk)));
    if (!out) return out_failed(w, m, built, count + 1);
    std::memcpy(out, data, l2_len + unfragmentable);  // Ethernet (MACs are set by neigh_output) and the unfragmentable part
    uint8_t* ip = out + l2_len;
    ip[next_field] = kNextFragment;
    reinterpret_cast<rte_ipv6_hdr*>(ip)->payload_len =
        rte_cpu_to_be_16(static_cast<uint16_t>(unfragmentable - sizeof(rte_ipv6_hdr) + 8 + chunk));
    uint8_t* fh = ip + unfragmentable;
    fh[0] = following;
    fh[1] = 0;
    store16(fh + 2, rte_cpu_to_be_16(static_cast<uint16_t>(offset | (last ? 0 : 1))));  // offset is a multiple of 8
    std::memcpy(fh + 4, &id, 4);
    std::memcpy(fh + 8, ip6 + unfragmentable + offset, chunk);
    piece->port = m->port;
    offset += chunk;
  }
  send_fragments(w, s, m, built, count, hop, now_us, tx);
}

}  // namespace

void ip_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop, uint64_t now_us,
                 TxQueues& tx) {
  // IPv6 routers never fragment (RFC 8200 5): an IPv6 packet over the MTU was refused with
  // a Packet Too Big before it got here (egress_mtu_fits). One rebuilt from fragments leaves
  // in pieces of the size it came in (its sender's choice), never smaller than that.
  if (p.ip6) {
    uint32_t total = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(p.ip6->payload_len);
    if (p.reassembled_from && total > p.reassembled_from) {
      uint32_t mtu = hop.port_index < kMaxPorts && w->port_mtus[hop.port_index] ? w->port_mtus[hop.port_index] : UINT16_MAX;
      return ipv6_output_fragments(w, s, m, p, hop, p.reassembled_from < mtu ? p.reassembled_from : mtu, now_us, tx);
    }
    return neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
  }
  const rte_ipv4_hdr* ip = p.ip;
  uint32_t total = rte_be_to_cpu_16(ip->total_length);
  uint32_t mtu = hop.port_index < kMaxPorts ? w->port_mtus[hop.port_index] : 0;
  bool dont_fragment = (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) != 0;
  if (mtu == 0 || total <= mtu || dont_fragment) return neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);

  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  uint32_t l2_len = static_cast<uint32_t>(reinterpret_cast<const uint8_t*>(ip) - data);
  uint32_t ihl = p.ip_header_len;
  uint32_t payload = total - ihl;
  uint32_t room = rte_pktmbuf_data_room_size(w->params.pool) - RTE_PKTMBUF_HEADROOM;
  if (mtu > room - l2_len) mtu = room - l2_len;
  rte_mbuf* built[kMaxOutFragments];
  uint32_t count = 0;
  for (uint32_t offset = 0; offset < payload; count++) {
    uint32_t header = offset == 0 ? ihl : sizeof(rte_ipv4_hdr);
    if (mtu < header + 8 || count == kMaxOutFragments) return out_failed(w, m, built, count);
    uint32_t chunk = payload - offset;
    bool last = chunk <= mtu - header;
    if (!last) chunk = (mtu - header) & ~7u;
    rte_mbuf* piece = rte_pktmbuf_alloc(w->params.pool);
    if (!piece) return out_failed(w, m, built, count);
    built[count] = piece;
    uint8_t* out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(piece, static_cast<uint16_t>(l2_len + header + chunk)));
    if (!out) return out_failed(w, m, built, count + 1);
    std::memcpy(out, data, l2_len);                    // Ethernet (MACs are set by neigh_output)
    std::memcpy(out + l2_len, ip, sizeof(rte_ipv4_hdr));  // the fixed header; options only in the first
    if (header > sizeof(rte_ipv4_hdr)) std::memcpy(out + l2_len + sizeof(rte_ipv4_hdr), ip + 1, header - sizeof(rte_ipv4_hdr));
    std::memcpy(out + l2_len + header, data + l2_len + ihl + offset, chunk);
    auto* frag = reinterpret_cast<rte_ipv4_hdr*>(out + l2_len);
    frag->version_ihl = static_cast<uint8_t>(0x40 | (header / 4));
    frag->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(header + chunk));
    frag->fragment_offset = rte_cpu_to_be_16(static_cast<uint16_t>((offset / 8) | (last ? 0 : RTE_IPV4_HDR_MF_FLAG)));
    frag->hdr_checksum = 0;
    frag->hdr_checksum = rte_ipv4_cksum(frag);
    piece->port = m->port;
    offset += chunk;
  }
  send_fragments(w, s, m, built, count, hop, now_us, tx);
}

}  // namespace pc
