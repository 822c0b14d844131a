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

}  // namespace

void ip_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop, uint64_t now_us,
                 TxQueues& tx) {
  // IPv6 routers never fragment (RFC 8200 5): an IPv6 packet over the MTU was refused with
  // a Packet Too Big before it got here (egress_mtu_fits).
  if (p.ip6) return neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
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
  rte_pktmbuf_free(m);
  w->counters->event(Event::FRAG_REFRAGMENTED);
  w->counters->event(Event::FRAG_OUT_PIECES, count);
  for (uint32_t i = 0; i < count; i++) neigh_output(&w->neigh, s, built[i], hop.port_index, hop.gateway, now_us, tx);
}

}  // namespace pc
