// One address type for both families, as the configuration, the snapshot and the
// connection records carry it: 16 bytes in network order. An IPv4 address is held
// IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so a table keyed by address takes
// either family without a second copy, and the family is read off the address itself.
// Such mapped addresses never appear on the wire as IPv6 addresses: parse drops an
// IPv6 packet that carries one, so a forged IPv6 packet cannot alias an IPv4 flow.
//
// Prefix lengths are the family's own (0..32 for IPv4, 0..128 for IPv6), as operators
// write them; ip_prefix_bits() gives the length over the 128-bit form.
#pragma once
#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <string>

namespace pc {

struct IpAddr {
  uint8_t bytes[16];
};
static_assert(sizeof(IpAddr) == 16, "an address is hashed and compared as 16 raw bytes");

inline bool operator==(const IpAddr& a, const IpAddr& b) { return std::memcmp(a.bytes, b.bytes, 16) == 0; }
inline bool operator!=(const IpAddr& a, const IpAddr& b) { return !(a == b); }
// The address as an unsigned 128-bit number: numeric order = prefix order. Sorted tables
// keep it (and look up with it) so a search step is one compare in registers.
__extension__ typedef unsigned __int128 IpNumber;
inline IpNumber ip_number(const IpAddr& a) {
  uint64_t high, low;
  std::memcpy(&high, a.bytes, 8);
  std::memcpy(&low, a.bytes + 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  high = __builtin_bswap64(high), low = __builtin_bswap64(low);
#endif
  return static_cast<IpNumber>(high) << 64 | low;
}
inline bool operator<(const IpAddr& a, const IpAddr& b) { return ip_number(a) < ip_number(b); }

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

inline bool ip_is_v4(const IpAddr& a) { return std::memcmp(a.bytes, kV4MappedPrefix, 12) == 0; }
inline bool ip_is_v6(const IpAddr& a) { return !ip_is_v4(a); }

// IPv4, network order (as the header's field holds it) <-> the mapped form. Built as two
// 8-byte words: byte-wise stores read back as wider words (a flow key, a compare) stall
// store-to-load forwarding, ~15 cycles a packet on the established path.
inline IpAddr ip_from_v4(uint32_t network_order) {
  IpAddr a;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t high = 0, low = (static_cast<uint64_t>(network_order) << 32) | 0xffff0000u;
  std::memcpy(a.bytes, &high, 8);
  std::memcpy(a.bytes + 8, &low, 8);
#else
  std::memcpy(a.bytes, kV4MappedPrefix, 12);
  std::memcpy(a.bytes + 12, &network_order, 4);
#endif
  return a;
}
inline uint32_t ip_v4(const IpAddr& a) {
  uint32_t v;
  std::memcpy(&v, a.bytes + 12, 4);
  return v;
}
inline IpAddr ip_from_v6(const uint8_t bytes[16]) {
  IpAddr a;
  std::memcpy(a.bytes, bytes, 16);
  return a;
}

inline bool ip_is_zero(const IpAddr& a) {
  static const IpAddr zero{};
  return a == zero;
}

// 32-bit mix of an address (schedulers, buckets): IPv4 hashes its 4 bytes only, so an
// IPv4 service's spread does not change with the representation.
inline uint32_t ip_fold32(const IpAddr& a) {
  uint32_t w[4];
  std::memcpy(w, a.bytes, 16);
  return ip_is_v4(a) ? w[3] : (w[0] ^ w[1] ^ w[2] ^ w[3]);
}

// The longest prefix of the address's family: 32 or 128.
inline unsigned ip_family_bits(const IpAddr& a) { return ip_is_v4(a) ? 32 : 128; }

// Text as operators write it: dotted quad for IPv4, RFC 5952 for IPv6.
enum class IpParse : uint8_t {
  OK,
  INVALID,  // neither family's syntax
  MAPPED,   // "::ffff:a.b.c.d": an IPv4 address in IPv6 clothing; write the dotted quad instead
};
inline IpParse ip_parse(const char* text, IpAddr* out) {
  in_addr v4;
  if (inet_pton(AF_INET, text, &v4) == 1) {
    *out = ip_from_v4(v4.s_addr);
    return IpParse::OK;
  }
  IpAddr v6;
  if (inet_pton(AF_INET6, text, v6.bytes) != 1) return IpParse::INVALID;
  if (ip_is_v4(v6)) return IpParse::MAPPED;
  *out = v6;
  return IpParse::OK;
}
inline std::string ip_text(const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN];
  if (ip_is_v4(a)) {
    uint32_t v4 = ip_v4(a);
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.bytes, buf, sizeof buf);
  }
  return buf;
}

struct IpPrefix {
  IpAddr addr{};
  uint8_t length = 0;  // the family's own: 0..32 (IPv4) or 0..128 (IPv6)
};

// The prefix length over the 128-bit form.
inline unsigned ip_prefix_bits(const IpAddr& a, unsigned family_length) {
  return ip_is_v4(a) ? 96 + family_length : family_length;
}

// a with every bit past bits (over the 128-bit form) cleared.
inline IpAddr ip_masked(const IpAddr& a, unsigned bits) {
  IpAddr m = a;
  for (unsigned i = 0; i < 16; i++) {
    unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
    if (keep >= 8) continue;
    m.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return m;
}

// a lies in p (same family; the mapped prefix keeps IPv4 prefixes away from IPv6 addresses).
inline bool ip_prefix_contains(const IpPrefix& p, const IpAddr& a) {
  if (ip_is_v4(p.addr) != ip_is_v4(a)) return false;
  unsigned bits = ip_prefix_bits(p.addr, p.length);
  return ip_masked(a, bits) == ip_masked(p.addr, bits);
}

}  // namespace pc
