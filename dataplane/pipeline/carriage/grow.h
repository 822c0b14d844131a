// Room for n bytes inside a packet, made by moving the bytes in front of the spot into
// the mbuf's headroom (headers are short, payloads long: the payload never moves).
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_mbuf.h>

namespace pc {

// Opens a gap of n bytes at offset `at` from the frame start: the first `at` bytes move
// n bytes toward the front. Returns the gap, or null (nothing changed) without headroom.
inline uint8_t* carriage_open_gap(rte_mbuf* m, uint32_t at, uint16_t n) {
  uint8_t* old_start = rte_pktmbuf_mtod(m, uint8_t*);
  auto* start = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, n));
  if (!start) return nullptr;
  std::memmove(start, old_start, at);
  return start + at;
}

// One's-complement checksum field `check` after the even-length bytes [data, data+len)
// were added to what it covers (RFC 1624: only the new words enter the sum).
inline uint16_t csum_add_bytes(uint16_t check, const uint8_t* data, uint32_t len) {
  uint32_t sum = static_cast<uint16_t>(~check);
  for (uint32_t i = 0; i < len; i += 2) {
    uint16_t word;
    std::memcpy(&word, data + i, 2);
    sum += word;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace pc
