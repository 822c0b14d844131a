// PROXY protocol headers (HAProxy proxy-protocol.txt; PROTOCOL.md §3.3) announcing the
// client's address to the real server as the first bytes of the server-side stream.
// v1: "PROXY TCP4 <client> <vip> <cport> <vport>\r\n" (at most 107 bytes);
// v2: 16-byte binary header (signature, 0x21 PROXY, 0x11 TCP/IPv4, length 12) + addresses.
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
// network order) into out (kProxyHeaderMax bytes); returns its length. IPv4 forms
// (TCP4, AF_INET): the snapshot holds IPv4 services only for now.
uint32_t proxy_header_write(uint8_t* out, ClientAddress mode, const IpAddr& caddr, uint16_t cport, const IpAddr& vaddr,
                            uint16_t vport);

}  // namespace pc
