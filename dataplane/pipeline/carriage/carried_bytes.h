// What the gateway adds to every client → server packet of a connection for the client's
// address, so an MTU announced to the client (ICMP fragmentation needed, Packet Too Big) leaves
// room for it: TOA's option, or a UDP PROXY v2 header. UOA rides only on a connection's first
// datagrams and is skipped when it does not fit, so it takes nothing off.
#pragma once
#include <cstdint>
#include "pipeline/carriage/toa.h"
#include "pipeline/conn/conn.h"

namespace pc {

constexpr uint16_t kProxyDgramLengthV4 = 28;  // 16 + 12 (AF_INET addresses and ports)
constexpr uint16_t kProxyDgramLengthV6 = 52;  // 16 + 36 (AF_INET6)

inline uint16_t carried_bytes(const Conn& c) {
  if (c.flags & kConnToa) return toa_option_length(c.client_addr);
  if (c.udp_carriage == kUdpCarriageProxyV2) return ip_is_v4(c.client_addr) ? kProxyDgramLengthV4 : kProxyDgramLengthV6;
  return 0;
}

}  // namespace pc
