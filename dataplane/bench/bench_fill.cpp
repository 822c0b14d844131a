#include "bench/bench_fill.h"

#include <cstring>
#include <rte_byteorder.h>
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// One of the bench's addresses: IPv4 (mapped) or the same 4 bytes at the end of 2001:db8::/96,
// so an IPv6 table holds the same number of distinct tuples, hashed as IPv6 addresses.
IpAddr fill_address(uint32_t host_order, bool ipv6) {
  IpAddr a = ip_from_v4(rte_cpu_to_be_32(host_order));
  if (ipv6) {
    static const uint8_t kDocumentationPrefix[12] = {0x20, 0x01, 0x0d, 0xb8};
    std::memcpy(a.bytes, kDocumentationPrefix, 12);
  }
  return a;
}

}  // namespace

uint32_t worker_fill_connections(Worker* w, uint32_t count, uint64_t now_us, uint32_t first, bool ipv6) {
  constexpr uint64_t kFarFutureUs = 3600ull * 1000 * 1000;
  for (uint32_t n = 0; n < count; n++) {
    const uint32_t i = first + n;
    uint32_t index = conn_alloc(&w->conns);
    if (index == kNoConn) return n;
    Conn& c = w->conns.records[index];
    // Client i: 10.0.0.0/8 host i >> 10 (skipping .0), port 1024 + (i & 1023). Reply: LIP
    // 100.64.0.0/10 host i >> 16, lport i & 0xffff — unique per connection, as the allocator makes
    // them. IPv6: the same last 4 bytes under 2001:db8::/96.
    c.protocol = IPPROTO_TCP;
    c.client_addr = fill_address(0x0a000001u + (i >> 10), ipv6);
    c.client_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + (i & 1023)));
    c.virtual_addr = fill_address(0xc612000au, ipv6);
    c.virtual_port = rte_cpu_to_be_16(80);
    c.local_addr = fill_address(0x64400000u + (i >> 16), ipv6);
    c.local_port = rte_cpu_to_be_16(static_cast<uint16_t>(i & 0xffff));
    c.server_addr = fill_address(0xc6130001u, ipv6);
    c.server_port = rte_cpu_to_be_16(80);
    c.state = kStateEstablished;
    c.expires_us = now_us + kFarFutureUs;
    if (!conn_insert(&w->conns, index, now_us)) {
      conn_release(&w->conns, index);
      return n;
    }
  }
  return count;
}

}  // namespace pc
