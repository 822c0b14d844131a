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

// Checksums that cover L3 addresses (pseudo-headers) are in l3.h.

}  // namespace pc
