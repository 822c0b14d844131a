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
// Numeric order of the 128-bit values (= prefix order, sorted tables rely on it): two
// 64-bit compares instead of a byte loop, as sorted lookups run on the packet path.
inline bool operator<(const IpAddr& a, const IpAddr& b) {
  uint64_t ah, al, bh, bl;
  std::memcpy(&ah, a.bytes, 8), std::memcpy(&al, a.bytes + 8, 8);
  std::memcpy(&bh, b.bytes, 8), std::memcpy(&bl, b.bytes + 8, 8);
  ah = __builtin_bswap64(ah), bh = __builtin_bswap64(bh);
  if (ah != bh) return ah < bh;
  return __builtin_bswap64(al) < __builtin_bswap64(bl);
}

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

inline bool ip_is_v4(const IpAddr& a) { return std::memcmp(a.bytes, kV4MappedPrefix, 12) == 0; }
inline bool ip_is_v6(const IpAddr& a) { return !ip_is_v4(a); }

// IPv4, network order (as the header's field holds it) <-> the mapped form.
inline IpAddr ip_from_v4(uint32_t network_order) {
  IpAddr a;
  std::memcpy(a.bytes, kV4MappedPrefix, 12);
  std::memcpy(a.bytes + 12, &network_order, 4);
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
