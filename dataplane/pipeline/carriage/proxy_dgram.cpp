#include "pipeline/carriage/proxy_dgram.h"

#include <rte_byteorder.h>
#include "pipeline/carriage/grow.h"
#include "pipeline/carriage/proxy_header.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/parse.h"

namespace pc {

void proxy_dgram_process(rte_mbuf* m, ParsedPacket& p, const Conn& c, uint16_t mtu, WorkerCounters& counters) {
  // Fragments are reassembled before they get here; should one pass, growing it would shift
  // the offsets of the fragments after it. An IPv6 atomic fragment is a whole datagram.
  if (p.ip6 ? ipv6_is_fragment(p) && !ipv6_is_atomic_fragment(p) : ipv4_is_fragment(p.ip))
    return counters.event(Event::PROXY_DGRAM_SKIPPED);
  uint8_t header[kProxyHeaderMax];
  const uint16_t n = static_cast<uint16_t>(proxy_header_write(header, ClientAddress::PROXY_V2, c.client_addr, c.client_port,
                                                              c.virtual_addr, c.virtual_port, ProxyTransport::DGRAM));
  if (p.ip_total_len + n > mtu) return counters.event(Event::PROXY_DGRAM_SKIPPED);

  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t at = static_cast<uint32_t>(reinterpret_cast<uint8_t*>(p.udp) - frame) + sizeof(rte_udp_hdr);
  uint8_t* gap = carriage_open_gap(m, at, n);
  if (!gap) return counters.event(Event::PROXY_DGRAM_SKIPPED);
  p.eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  l3_headers_moved(p, -static_cast<int>(n));  // IP and UDP headers both moved
  std::memcpy(gap, header, n);

  // The header is 28 or 52 bytes, even, and sits at an even offset: the payload's words
  // keep their alignment, so only the new words and the UDP length change the checksum
  // (it counts twice: in the UDP header and in the pseudo-header, which takes the UDP
  // length, not the IP payload's, should bytes trail the datagram).
  l3_set_payload_len(p, static_cast<uint16_t>(p.l4_len + n));
  const uint16_t udp_length_before = p.udp->dgram_len;
  p.udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(udp_length_before) + n));
  if (p.udp->dgram_cksum != 0) {  // IPv4 "no checksum" stays so
    uint16_t check = p.udp->dgram_cksum;
    check = csum_replace16(check, udp_length_before, p.udp->dgram_len);
    check = csum_replace16(check, udp_length_before, p.udp->dgram_len);
    check = csum_add_bytes(check, gap, n);
    p.udp->dgram_cksum = check == 0 ? 0xffff : check;  // 0 would mean "none"
  }
  counters.event(Event::PROXY_DGRAM_ADDED);
}

}  // namespace pc
