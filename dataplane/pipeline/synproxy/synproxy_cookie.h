// SYN cookies for SYNPROXY (PROTOCOL.md §1.1/§1.2): the kernel's 24-bit layout,
// keyed with SipHash-2-4.
//
//   cookie = H(k0; saddr,daddr,ports,0) + client_isn + (count << 24)
//            + ((H(k1; saddr,daddr,ports,count) + mss_index) & 0xffffff)
//
// The message is the tuple's addresses in their own family's width: 4 bytes each for
// IPv4 (16-byte messages, as before IPv6), 16 bytes each for IPv6 (40-byte messages, as
// the kernel's cookie_v6). Never a fold of an IPv6 address: sources that fold alike would
// share cookies, so one cookie learnt from the attacker's own address would open
// connections from spoofed ones.
//
// count is the minute counter (worker clock / 60 s); an ACK is accepted for count
// and count-1, so a cookie lives 1..2 minutes. The low 6 bits of the SYN-ACK's
// TSval carry the client's window scale (0xf = none) and SACK-permitted, so those
// options survive only when the client sent timestamps.
//
// Secret: two 128-bit SipHash keys for the whole process (every worker may
// validate a cookie another worker issued), drawn from getrandom() once when the
// first worker is created and read-only afterwards. Rotation comes from count
// being hashed under k1, as in Linux; the keys themselves never change while the
// process lives.
#pragma once
#include <cstdint>
#include "common/ip_address.h"

namespace pc {

constexpr uint64_t kCookiePeriodUs = 60ull * 1000 * 1000;
constexpr uint32_t kCookieMaxAge = 2;  // counter values accepted: count, count-1
// The MSS values a cookie can carry (the index is 2 bits), per family as in Linux's
// msstab: IPv4 from the 536 floor to 1500 - 40; IPv6 MTU - 60 for the IPv6 minimum MTU
// (1280), 1480 (IPv6 over an IPv4 tunnel), 1500 and 9000.
constexpr uint16_t kCookieMssTable[] = {536, 1300, 1440, 1460};
constexpr uint16_t kCookieMssTable6[] = {1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60};
constexpr uint32_t kCookieMssCount = sizeof kCookieMssTable / sizeof kCookieMssTable[0];
static_assert(sizeof kCookieMssTable6 / sizeof kCookieMssTable6[0] == kCookieMssCount, "one index for both families");

// Options carried in the TSval low bits.
constexpr uint32_t kTsOptionBits = 6;
constexpr uint32_t kTsWscaleMask = 0xf;  // 0xf = client did not offer window scaling
constexpr uint32_t kTsSackBit = 0x10;

uint64_t siphash24(const uint8_t key[16], const void* data, uint32_t length);

// Fills the process keys from getrandom() (idempotent). False if the kernel gave no entropy.
bool syncookie_keys_init();
// Test mode: fixed keys, so golden tests are reproducible.
void syncookie_keys_set(const uint8_t k0[16], const uint8_t k1[16]);

inline uint32_t cookie_count(uint64_t now_us) { return static_cast<uint32_t>(now_us / kCookiePeriodUs); }

// Index into the family's table (kCookieMssTable, kCookieMssTable6 when ipv6): the
// largest entry <= mss (index 0 as floor).
uint32_t cookie_mss_index(uint16_t mss, bool ipv6);
inline uint16_t cookie_mss_value(uint32_t index, bool ipv6) {
  return ipv6 ? kCookieMssTable6[index] : kCookieMssTable[index];
}

// Ports network order as in the packet; client_isn host order. The tuple is one family
// (saddr's): IPv4 hashes its 4-byte addresses (as the kernel's cookie_v4 does), IPv6 its
// 16-byte ones (cookie_v6).
uint32_t cookie_make(const IpAddr& saddr, const IpAddr& daddr, uint16_t sport, uint16_t dport, uint32_t client_isn,
                     uint32_t mss_index, uint32_t count);
// cookie = the ACK's ack-1, client_isn = the ACK's seq-1. Returns the MSS index,
// or -1 when the cookie is forged or older than kCookieMaxAge minutes.
int cookie_check(const IpAddr& saddr, const IpAddr& daddr, uint16_t sport, uint16_t dport, uint32_t client_isn,
                 uint32_t cookie, uint32_t count);

// SYN-ACK TSval: now_ms with the option bits in its low 6 bits, never ahead of now_ms.
inline uint32_t cookie_tsval(uint32_t now_ms, uint32_t options) {
  uint32_t ts = ((now_ms >> kTsOptionBits) << kTsOptionBits) | options;
  if (ts > now_ms) ts -= 1u << kTsOptionBits;
  return ts;
}

}  // namespace pc
