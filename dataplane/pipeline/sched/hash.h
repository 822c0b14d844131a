// The hash functions IPVS's hashing schedulers use (PROTOCOL.md §5), so a client
// lands on the bucket it would land on in IPVS. Inputs in host order.
#pragma once
#include <cstdint>

namespace pc {

// Linux hash_32(): multiply by GOLDEN_RATIO_32, keep the top `bits` bits (sh, lblc).
inline uint32_t golden_hash32(uint32_t value, unsigned bits) { return (value * 0x61C88647u) >> (32 - bits); }

// Knuth's multiplicative hash of ip_vs_dh.c (and old sh): addr * 2654435761, low 8 bits.
inline uint32_t knuth_bucket256(uint32_t addr) { return (addr * 2654435761u) & 255u; }

// hsiphash() of one 32-bit word as 64-bit kernels compute it: SipHash-1-3 with a
// 128-bit key, truncated to 32 bits (ip_vs_mh.c).
inline uint32_t hsiphash_u32(uint32_t word, uint64_t k0, uint64_t k1) {
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  auto rotl = [](uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  auto round = [&]() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  uint64_t b = (uint64_t{4} << 56) | word;  // message length 4 in the top byte
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xff;
  round();
  round();
  round();
  return static_cast<uint32_t>((v0 ^ v1) ^ (v2 ^ v3));
}

}  // namespace pc
