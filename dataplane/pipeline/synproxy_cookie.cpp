#include "pipeline/synproxy_cookie.h"

#include <cstring>
#include <sys/random.h>

namespace pc {

namespace {

struct CookieKeys {
  uint8_t k0[16];
  uint8_t k1[16];
  bool ready;
};
CookieKeys g_keys{};  // written once before workers run, read-only afterwards

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
  v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
}

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

uint32_t cookie_hash(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                     uint32_t count) {
  // The kernel hashes (saddr, daddr, sport << 16 | dport, count); the port word here
  // is built from the raw network-order fields, which is just as unique.
  uint32_t words[4] = {saddr, daddr, (static_cast<uint32_t>(sport) << 16) | dport, count};
  return static_cast<uint32_t>(siphash24(key, words, sizeof words));
}

}  // namespace

// SipHash-2-4 (Aumasson & Bernstein): 2 compression rounds per 8-byte word, 4 final rounds.
uint64_t siphash24(const uint8_t key[16], const void* data, uint32_t length) {
  const uint8_t* in = static_cast<const uint8_t*>(data);
  uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  uint32_t full = length & ~7u;
  for (uint32_t i = 0; i < full; i += 8) {
    uint64_t m = load_le64(in + i);
    v3 ^= m;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(length & 0xff) << 56;
  for (uint32_t i = 0; i < (length & 7); i++) last |= static_cast<uint64_t>(in[full + i]) << (8 * i);
  v3 ^= last;
  sip_round(v0, v1, v2, v3);
  sip_round(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; i++) sip_round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

bool syncookie_keys_init() {
  if (g_keys.ready) return true;
  uint8_t material[32];
  if (getrandom(material, sizeof material, 0) != static_cast<ssize_t>(sizeof material)) return false;
  std::memcpy(g_keys.k0, material, 16);
  std::memcpy(g_keys.k1, material + 16, 16);
  g_keys.ready = true;
  return true;
}

void syncookie_keys_set(const uint8_t k0[16], const uint8_t k1[16]) {
  std::memcpy(g_keys.k0, k0, 16);
  std::memcpy(g_keys.k1, k1, 16);
  g_keys.ready = true;
}

uint32_t cookie_mss_index(uint16_t mss) {
  uint32_t index = kCookieMssCount - 1;
  while (index > 0 && mss < kCookieMssTable[index]) index--;
  return index;
}

constexpr uint32_t kCookieBits = 24;
constexpr uint32_t kCookieMask = (1u << kCookieBits) - 1;

uint32_t cookie_make(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint32_t client_isn,
                     uint32_t mss_index, uint32_t count) {
  return cookie_hash(g_keys.k0, saddr, daddr, sport, dport, 0) + client_isn + (count << kCookieBits) +
         ((cookie_hash(g_keys.k1, saddr, daddr, sport, dport, count) + mss_index) & kCookieMask);
}

int cookie_check(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint32_t client_isn,
                 uint32_t cookie, uint32_t count) {
  cookie -= cookie_hash(g_keys.k0, saddr, daddr, sport, dport, 0) + client_isn;
  uint32_t age = (count - (cookie >> kCookieBits)) & (0xffffffffu >> kCookieBits);
  if (age >= kCookieMaxAge) return -1;
  uint32_t data = (cookie - cookie_hash(g_keys.k1, saddr, daddr, sport, dport, count - age)) & kCookieMask;
  return data < kCookieMssCount ? static_cast<int>(data) : -1;
}

}  // namespace pc
