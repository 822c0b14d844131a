// TCP options and in-place edits of a TCP header, for every stage that reads or rewrites
// them (SYNPROXY, TOA, MSS clamping): one option walk and one checksum-keeping patch.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_tcp.h>
#include "pipeline/l2l3/checksum.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

constexpr uint8_t kTcpOptEol = 0, kTcpOptNop = 1, kTcpOptMss = 2;

inline uint32_t tcp_header_bytes(const rte_tcp_hdr* tcp) { return (tcp->data_off >> 4) * 4u; }

// Calls visit(kind, option_offset, option_length) for each well-formed option, offsets from the
// start of the TCP header; stops at EOL or at the first malformed length (what follows cannot be
// trusted: Linux stops there too).
template <typename Visit>
void tcp_walk_options(const rte_tcp_hdr* header, Visit visit) {
  const uint8_t* tcp = reinterpret_cast<const uint8_t*>(header);
  uint32_t end = tcp_header_bytes(header);
  for (uint32_t at = sizeof(rte_tcp_hdr); at < end;) {
    uint8_t kind = tcp[at];
    if (kind == kTcpOptEol) return;
    if (kind == kTcpOptNop) {
      at++;
      continue;
    }
    if (at + 1 >= end) return;
    uint8_t length = tcp[at + 1];
    if (length < 2 || at + length > end) return;
    visit(kind, at, length);
    at += length;
  }
}

// Offset of the value of the first well-formed MSS option (kind 2, length 4), or -1.
inline int tcp_mss_value_offset(const rte_tcp_hdr* header) {
  int found = -1;
  tcp_walk_options(header, [&](uint8_t kind, uint32_t at, uint8_t length) {
    if (found < 0 && kind == kTcpOptMss && length == 4) found = static_cast<int>(at + 2);
  });
  return found;
}

// Rewrites `size` bytes at byte offset `offset` of the TCP header (any alignment: options are
// byte-aligned) and folds the change into the TCP checksum (RFC 1624) over the 16-bit words,
// aligned to the header start, that they touch.
inline void tcp_patch(rte_tcp_hdr* header, uint32_t offset, const uint8_t* bytes, uint32_t size) {
  uint8_t* tcp = reinterpret_cast<uint8_t*>(header);
  uint32_t start = offset & ~1u, end = (offset + size + 1) & ~1u;
  uint32_t sum = static_cast<uint16_t>(~header->cksum);
  for (uint32_t i = start; i < end; i += 2) sum += static_cast<uint16_t>(~load16(tcp + i));
  std::memcpy(tcp + offset, bytes, size);
  for (uint32_t i = start; i < end; i += 2) sum += load16(tcp + i);
  header->cksum = static_cast<uint16_t>(~csum_finish(sum));
}

// tcp_patch of one 16-bit field given in host order.
inline void tcp_patch16(rte_tcp_hdr* header, uint32_t offset, uint16_t host_value) {
  uint16_t v = rte_cpu_to_be_16(host_value);
  tcp_patch(header, offset, reinterpret_cast<const uint8_t*>(&v), 2);
}

// Lowers header's MSS option by `by` bytes (room for bytes the gateway adds to each segment),
// checksum kept right. False when there is none, it sits after a malformed option, or it is
// not above `by`: the receiver's own default then applies.
inline bool tcp_lower_mss(rte_tcp_hdr* header, uint16_t by) {
  int at = tcp_mss_value_offset(header);
  if (at < 0) return false;
  uint16_t mss = rte_be_to_cpu_16(load16(reinterpret_cast<const uint8_t*>(header) + at));
  if (mss <= by) return false;
  tcp_patch16(header, static_cast<uint32_t>(at), static_cast<uint16_t>(mss - by));
  return true;
}

}  // namespace pc
