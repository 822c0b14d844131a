#include "pipeline/synproxy/synproxy_cookie.h"

#include <cstring>
#include <sys/random.h>

namespace pc {

namespace {

struct CookieKeys {
  uint8_t k0[16];
  uint8_t k1[16];
  uint64_t k0_words[2];  // the same keys as SipHash reads them (little-endian words)
  uint64_t k1_words[2];
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

// SipHash-2-4 of two 16-byte messages under two keys, computed side by side: the same
// function as siphash24(), but the two dependency chains interleave (the CPU runs one
// while the other waits) and the message and keys are whole words, not bytes. Used for
// the cookie's two hashes, which Linux computes the same way, one after the other.
struct SipState {
  uint64_t v0, v1, v2, v3;
};
inline SipState sip_init(const uint64_t key[2]) {
  return SipState{0x736f6d6570736575ull ^ key[0], 0x646f72616e646f6dull ^ key[1], 0x6c7967656e657261ull ^ key[0],
                  0x7465646279746573ull ^ key[1]};
}
inline void sip_compress2(SipState& a, uint64_t ma, SipState& b, uint64_t mb) {
  a.v3 ^= ma, b.v3 ^= mb;
  sip_round(a.v0, a.v1, a.v2, a.v3), sip_round(b.v0, b.v1, b.v2, b.v3);
  sip_round(a.v0, a.v1, a.v2, a.v3), sip_round(b.v0, b.v1, b.v2, b.v3);
  a.v0 ^= ma, b.v0 ^= mb;
}
// Words = the message as little-endian 8-byte words (8 * kWords bytes, no tail).
template <int kWords>
void siphash24_pair(const uint64_t key_a[2], const uint64_t a[kWords], const uint64_t key_b[2], const uint64_t b[kWords],
                    uint64_t* hash_a, uint64_t* hash_b) {
  SipState sa = sip_init(key_a), sb = sip_init(key_b);
  for (int i = 0; i < kWords; i++) sip_compress2(sa, a[i], sb, b[i]);
  const uint64_t length_block = static_cast<uint64_t>(8 * kWords) << 56;
  sip_compress2(sa, length_block, sb, length_block);
  sa.v2 ^= 0xff, sb.v2 ^= 0xff;
  for (int i = 0; i < 4; i++) sip_round(sa.v0, sa.v1, sa.v2, sa.v3), sip_round(sb.v0, sb.v1, sb.v2, sb.v3);
  *hash_a = sa.v0 ^ sa.v1 ^ sa.v2 ^ sa.v3;
  *hash_b = sb.v0 ^ sb.v1 ^ sb.v2 ^ sb.v3;
}

// H(k0; ..., 0) and H(k1; ..., count), the two hashes a cookie is made of, over
// (saddr, daddr, sport << 16 | dport, count) with the addresses at their family's width.
// The kernel hashes the same words; the port word here is built from the raw
// network-order fields, which is just as unique.
void cookie_hashes(const IpAddr& source, const IpAddr& destination, uint16_t sport, uint16_t dport, uint32_t count,
                   uint32_t* h0, uint32_t* h1) {
  uint64_t ports = (static_cast<uint32_t>(sport) << 16) | dport;
  uint64_t a, b;
  if (ip_is_v4(source)) {
    // The 16-byte message (v4 saddr, v4 daddr, ports, count) of the cookies before IPv6, unchanged.
    uint64_t addresses = ip_v4(source) | static_cast<uint64_t>(ip_v4(destination)) << 32;
    uint64_t words0[2] = {addresses, ports};
    uint64_t words1[2] = {addresses, ports | static_cast<uint64_t>(count) << 32};
    siphash24_pair<2>(g_keys.k0_words, words0, g_keys.k1_words, words1, &a, &b);
  } else {
    // 40 bytes: saddr[16], daddr[16], ports, count.
    uint64_t words0[5], words1[5];
    std::memcpy(words0, source.bytes, 16);
    std::memcpy(words0 + 2, destination.bytes, 16);
    words0[4] = ports;
    std::memcpy(words1, words0, sizeof words0);
    words1[4] = ports | static_cast<uint64_t>(count) << 32;
    siphash24_pair<5>(g_keys.k0_words, words0, g_keys.k1_words, words1, &a, &b);
  }
  *h0 = static_cast<uint32_t>(a);
  *h1 = static_cast<uint32_t>(b);
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

static void key_words_from_bytes() {
  g_keys.k0_words[0] = load_le64(g_keys.k0), g_keys.k0_words[1] = load_le64(g_keys.k0 + 8);
  g_keys.k1_words[0] = load_le64(g_keys.k1), g_keys.k1_words[1] = load_le64(g_keys.k1 + 8);
}

bool syncookie_keys_init() {
  if (g_keys.ready) return true;
  uint8_t material[32];
  if (getrandom(material, sizeof material, 0) != static_cast<ssize_t>(sizeof material)) return false;
  std::memcpy(g_keys.k0, material, 16);
  std::memcpy(g_keys.k1, material + 16, 16);
  key_words_from_bytes();
  g_keys.ready = true;
  return true;
}

void syncookie_keys_set(const uint8_t k0[16], const uint8_t k1[16]) {
  std::memcpy(g_keys.k0, k0, 16);
  std::memcpy(g_keys.k1, k1, 16);
  key_words_from_bytes();
  g_keys.ready = true;
}

uint32_t cookie_mss_index(uint16_t mss, bool ipv6) {
  const uint16_t* table = ipv6 ? kCookieMssTable6 : kCookieMssTable;
  uint32_t index = kCookieMssCount - 1;
  while (index > 0 && mss < table[index]) index--;
  return index;
}

constexpr uint32_t kCookieBits = 24;
constexpr uint32_t kCookieMask = (1u << kCookieBits) - 1;

uint32_t cookie_make(const IpAddr& source, const IpAddr& destination, uint16_t sport, uint16_t dport,
                     uint32_t client_isn, uint32_t mss_index, uint32_t count) {
  uint32_t h0, h1;
  cookie_hashes(source, destination, sport, dport, count, &h0, &h1);
  return h0 + client_isn + (count << kCookieBits) + ((h1 + mss_index) & kCookieMask);
}

int cookie_check(const IpAddr& source, const IpAddr& destination, uint16_t sport, uint16_t dport,
                 uint32_t client_isn, uint32_t cookie, uint32_t count) {
  uint32_t h0, h1;  // h1 for the current count; an ACK to a previous minute's cookie hashes again
  cookie_hashes(source, destination, sport, dport, count, &h0, &h1);
  cookie -= h0 + client_isn;
  uint32_t age = (count - (cookie >> kCookieBits)) & (0xffffffffu >> kCookieBits);
  if (age >= kCookieMaxAge) return -1;
  if (age != 0) {
    uint32_t unused_h0;
    cookie_hashes(source, destination, sport, dport, count - age, &unused_h0, &h1);
  }
  uint32_t data = (cookie - h1) & kCookieMask;
  return data < kCookieMssCount ? static_cast<int>(data) : -1;
}

}  // namespace pc
