// The bench's simulated hosts (bench.cpp, bench_flows.cpp): frames they build and decode,
// the ARP / neighbour answers they give, and the client addresses they use. Harness code:
// its cycles are timed apart and left out of every figure.
#pragma once
#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <vector>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include "core/dataplane.h"

namespace pc::bench {

constexpr uint16_t kPayloadBytes = 18;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpPsh = 0x08, kTcpAck = 0x10;

// Ones' complement incremental update (RFC 1624 eqn. 3) on raw network-order words.
inline uint16_t csum_replace(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~check) + static_cast<uint16_t>(~old_word) + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The bench's hosts are IPv4 or IPv6 by the first service's VIP; frames carry no IPv6
// extension headers, so L4 follows the fixed header.
inline bool is_ipv6_frame(const rte_ether_hdr* eth) { return eth->ether_type == htons(RTE_ETHER_TYPE_IPV6); }

// The MAC a simulated client/server with this address answers ARP (or a neighbour
// solicitation) with: made of the address's last 4 bytes, which is all that tells the
// bench's hosts apart in either family (they differ in the low 32 bits only).
void mac_for_ip(uint32_t ip_net, uint8_t mac[6]);
void mac_for_ip(const uint8_t address[16], uint8_t mac[6]);

// Turns a frame into the peer's reply: MACs, addresses and ports swapped, TTL reset, TCP
// flags set when nonzero; checksums patched incrementally.
void mirror(rte_mbuf* m, uint8_t tcp_flags);
// Answers an ARP request or a neighbour solicitation in place as the simulated host that
// owns the target address. Returns false if m is neither.
bool answer_arp(rte_mbuf* m);
uint8_t tcp_flags_of(rte_mbuf* m);
uint16_t fold(uint32_t sum);
uint32_t sum16(const void* data, size_t len, uint32_t sum = 0);

// A client frame CIP:cport -> VIP:vport with valid checksums, IPv4 or IPv6 by the VIP's family.
rte_mbuf* build_frame(rte_mempool* pool, const uint8_t dst_mac[6], const IpAddr& cip, uint16_t cport, const IpAddr& vip,
                      uint16_t vport, uint8_t protocol, uint8_t tcp_flags);

// An IPv4 TCP or UDP frame written over m from scratch (headroom reset), checksums valid.
// Addresses and ports in network order; the payload is payload_len bytes whose first 4
// carry `tag` (how the receiving side of bench_flows.cpp tells its flows apart).
struct Ipv4Frame {
  const uint8_t* src_mac;
  const uint8_t* dst_mac;
  uint32_t saddr, daddr;
  uint16_t sport, dport;
  uint8_t protocol;
  uint32_t seq = 0, ack = 0;  // TCP
  uint8_t tcp_flags = 0;
  uint16_t payload_len = 0;
  uint32_t tag = 0;
};
void write_ipv4_frame(rte_mbuf* m, const Ipv4Frame& f);

// What a received IPv4 TCP/UDP frame says (network order as on the wire, seq/ack host order).
struct Decoded {
  uint32_t saddr, daddr;
  uint16_t sport, dport;
  uint8_t protocol;
  uint8_t tcp_flags;
  uint32_t seq, ack;
  uint16_t payload_len;
  uint32_t tag;  // first 4 payload bytes (0 when fewer)
};
// False unless m is a well-formed IPv4 TCP or UDP frame.
bool decode_ipv4(const rte_mbuf* m, Decoded* d);
// IPv4 header checksum and TCP/UDP checksum (pseudo-header included) both verify.
bool ipv4_checksums_ok(const rte_mbuf* m);

// Client addresses for `count` flows: hosts of the outside port's first connected prefix
// of the VIP's family that nothing in the config owns, cycled, with varying client ports.
// They differ in their last 4 bytes only (low32, host order): the same arithmetic makes
// IPv4 clients (the mapped form's last 4 bytes are the IPv4 address) and IPv6 ones.
struct ClientPlan {
  IpAddr base{};
  std::vector<uint32_t> low32;
  IpAddr address(size_t i) const {
    IpAddr a = base;
    uint32_t low = htonl(low32[i % low32.size()]);
    memcpy(a.bytes + 12, &low, 4);
    return a;
  }
};
bool plan_clients(const DataplaneConfig& cfg, uint16_t outside_index, const IpAddr& vip, ClientPlan* plan);

void free_all(std::vector<rte_mbuf*>* v);
// Frees everything queued in r.
void drain_ring(rte_ring* r);

}  // namespace pc::bench
