// PROXY protocol headers (HAProxy proxy-protocol.txt; PROTOCOL.md §3.3) announcing the
// client's address to the real server as the first bytes of the server-side stream.
// v1: "PROXY TCP4 <client> <vip> <cport> <vport>\r\n", or TCP6 with RFC 5952 addresses
// (at most 104 bytes; the spec allows 107);
// v2: 16-byte binary header (signature, 0x21 PROXY, 0x11 TCP/IPv4 + length 12 or
// 0x21 TCP/IPv6 + length 36; over UDP 0x12 / 0x22, DGRAM) + addresses + ports.
// The sequence-number bookkeeping for the added bytes lives in synproxy.cpp.
#pragma once
#include <cstdint>
#include "common/config.h"

namespace pc {

constexpr uint32_t kProxyHeaderMax = 108;  // v1 maximum (107) rounded up

inline bool proxy_header_enabled(ClientAddress mode) {
  return mode == ClientAddress::PROXY_V1 || mode == ClientAddress::PROXY_V2;
}

// Writes the header for a client at caddr:cport that connected to vaddr:vport (ports
// network order) into out (kProxyHeaderMax bytes); returns its length. The family is the
// client's: TCP4/AF_INET for an IPv4 client, TCP6/AF_INET6 for an IPv6 one (vaddr is then
// IPv6 too: a service is one family, and a NAT64 VIP is IPv6).
// transport DGRAM (v2 only: v1 has no UDP form) for a header in front of a datagram.
enum class ProxyTransport : uint8_t { STREAM, DGRAM };
uint32_t proxy_header_write(uint8_t* out, ClientAddress mode, const IpAddr& caddr, uint16_t cport, const IpAddr& vaddr,
                            uint16_t vport, ProxyTransport transport = ProxyTransport::STREAM);

}  // namespace pc
