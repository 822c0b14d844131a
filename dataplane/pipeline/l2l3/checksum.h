// Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
// One's-complement sums are byte-order independent (RFC 1071 §2(B)), so these
// work on 16-bit words exactly as they sit in the packet (network order) without swapping.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_byteorder.h>

namespace pc {

inline uint32_t csum_fold_add(uint32_t sum, uint16_t word) { return sum + word; }

inline uint16_t csum_finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Checksum field `check` (as stored) after one 16-bit word changed from old_word to new_word.
inline uint16_t csum_replace16(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return static_cast<uint16_t>(~csum_finish(sum));
}

// Same for a 32-bit field (an IPv4 address) = two 16-bit words.
inline uint16_t csum_replace32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_value & 0xffff);
  sum += static_cast<uint16_t>(~old_value >> 16);
  sum += new_value & 0xffff;
  sum += new_value >> 16;
  return static_cast<uint16_t>(~csum_finish(sum));
}

// Same for a 16-byte field (an IPv6 address) = eight 16-bit words.
inline uint16_t csum_replace128(uint16_t check, const uint8_t old_value[16], const uint8_t new_value[16]) {
  uint64_t sum = static_cast<uint16_t>(~check);
  for (int i = 0; i < 16; i += 4) {
    uint32_t before, after;
    std::memcpy(&before, old_value + i, 4);
    std::memcpy(&after, new_value + i, 4);
    sum += static_cast<uint32_t>(~before);  // a 32-bit word is two 16-bit words (2^16 = 1 mod 2^16 - 1)
    sum += after;
  }
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  return static_cast<uint16_t>(~csum_finish(static_cast<uint32_t>(sum)));
}

// Ones' complement sum of len bytes folded to 16 bits, in rte_raw_cksum's convention
// (native-order words; a trailing odd byte is the low byte of a zero-padded word), but
// four bytes per add: a 32-bit word is two 16-bit words because 2^16 = 1 (mod 2^16 - 1).
inline uint16_t csum_sum(const void* data, uint32_t len, uint64_t sum = 0) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    sum += word;
  }
  if (len >= 2) {
    uint16_t word;
    std::memcpy(&word, p, 2);
    sum += word;
    p += 2, len -= 2;
  }
  if (len) sum += *p;
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  return csum_finish(static_cast<uint32_t>(sum));
}

// csum_sum over an IPv4 header: the 20-byte one (no options, nearly every packet) as five
// independent adds with no loop, since every received IPv4 frame is verified with it and the
// SYNPROXY replies are summed with it; any other length as csum_sum.
inline uint16_t csum_ipv4_header(const void* header, uint32_t len) {
  if (len != 20) return csum_sum(header, len);
  // Five scalar loads: a memcpy into a local array became a 16-byte copy to the stack read
  // back in 4-byte pieces, a store-to-load forwarding stall on every received frame.
  const uint8_t* b = static_cast<const uint8_t*>(header);
  uint32_t w0, w1, w2, w3, w4;
  std::memcpy(&w0, b, 4), std::memcpy(&w1, b + 4, 4), std::memcpy(&w2, b + 8, 4);
  std::memcpy(&w3, b + 12, 4), std::memcpy(&w4, b + 16, 4);
  uint64_t sum = static_cast<uint64_t>(w0) + w1 + w2 + w3 + w4;
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  return csum_finish(static_cast<uint32_t>(sum));
}

// IPv6 pseudo-header (RFC 8200 8.1): source, destination (the final one), the 32-bit
// upper-layer length, three zero bytes and the upper-layer protocol (not the IPv6
// header's next header when extension headers sit between). Unfolded 32-bit words in
// the packet's byte order, so it can seed csum_sum() over the upper-layer message.
// Used by ICMPv6 (which, unlike ICMPv4, covers a pseudo-header) and TCP/UDP over IPv6.
inline uint64_t ipv6_pseudo_header_sum(const uint8_t src[16], const uint8_t dst[16], uint32_t upper_len,
                                       uint8_t protocol) {
  uint64_t sum = 0;
  for (int i = 0; i < 16; i += 4) {
    uint32_t s, d;
    std::memcpy(&s, src + i, 4);
    std::memcpy(&d, dst + i, 4);
    sum += s;
    sum += d;
  }
  sum += rte_cpu_to_be_32(upper_len);
  sum += rte_cpu_to_be_32(protocol);
  return sum;
}

// The checksum field value for an upper-layer message of len bytes (its checksum field zeroed).
inline uint16_t ipv6_upper_checksum(const uint8_t src[16], const uint8_t dst[16], uint8_t protocol,
                                    const void* message, uint32_t len) {
  return static_cast<uint16_t>(~csum_sum(message, len, ipv6_pseudo_header_sum(src, dst, len, protocol)));
}

// True when a received upper-layer message's checksum (field included) verifies.
inline bool ipv6_upper_checksum_ok(const uint8_t src[16], const uint8_t dst[16], uint8_t protocol,
                                   const void* message, uint32_t len) {
  return csum_sum(message, len, ipv6_pseudo_header_sum(src, dst, len, protocol)) == 0xffff;
}

// Other checksums that cover L3 addresses (IPv4 pseudo-headers, rewrites) are in l3.h.

}  // namespace pc
