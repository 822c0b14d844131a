// libFuzzer target over the whole pipeline in test mode (issue 8): the real core (ring ports,
// mempool, one worker driven by step()) and every stage behind parse, fed frames from the input.
//
// Input: records of [control][length hi][length lo][frame bytes]. Control bit 0 = port (outside /
// inside); bit 1 = answer the ARP requests the data plane sends afterwards (so flows forward);
// bits 2-4 = advance the test clock by 2^k * 100 ms first (k = 0 means no advance).
// After the last record the clock jumps past every timeout and ARP retry: by then the pool must
// have every mbuf back (a leak aborts, so libFuzzer records it as a crash).
//
// Built by scripts/fuzz.sh (clang++ -fsanitize=fuzzer,address,undefined); not part of the addon.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "core/dataplane.h"

namespace {

constexpr uint32_t kAddrOutside = 0xC61200FE;  // 198.18.0.254
constexpr uint32_t kAddrInside = 0xC61300FE;   // 198.19.0.254
constexpr uint32_t kVip = 0xC612000A;          // 198.18.0.10
constexpr uint32_t kFirstServer = 0xC6130001;  // 198.19.0.1..3
constexpr uint32_t kFirstLip = 0xC61300C8;     // 198.19.0.200..203
constexpr size_t kMaxFrameBytes = 2000;        // below the mbuf data room
constexpr uint64_t kPastEveryTimeoutUs = 1000ull * 1000 * 1000;  // > 900 s established
constexpr int kArpGiveUpSteps = 8;             // 8 x 1 s > 3 ARP retries
const char* const kPortNames[2] = {"outside", "inside"};

// An IPv4 address given in host order, as the configuration holds it (network order, mapped).
pc::IpAddr v4(uint32_t host_order) { return pc::ip_from_v4(htonl(host_order)); }

// 2001:db8:<segment>::254/64, the lab's gateway address on that segment.
pc::IpPrefix ipv6_port_address(uint8_t segment) {
  pc::IpPrefix p;
  const uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, segment, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  memcpy(p.addr.bytes, bytes, 16);
  p.length = 64;
  return p;
}

pc::ServiceConfig service(uint32_t id, uint8_t protocol, uint16_t port, uint32_t first_server_id) {
  pc::ServiceConfig s;
  s.id = id;
  s.protocol = protocol;
  s.vip = v4(kVip);
  s.vport = port;
  for (uint32_t i = 0; i < 4; i++) s.local_addresses.push_back(v4(kFirstLip + i));
  for (uint32_t i = 0; i < 3; i++) {
    pc::RealServerConfig r;
    r.id = first_server_id + i;
    r.addr = v4(kFirstServer + i);
    r.port = port;
    s.servers.push_back(r);
  }
  return s;
}

// The golden-packet lab (test/support/golden.ts): TCP :80 (with TOA), UDP :7, TCP :443 (SYNPROXY),
// TCP :8080 (NAT, DR and TUN servers), UDP :53 uoa_ipo, :54 uoa_opp, :55 proxy_v2.
pc::DataplaneConfig lab_config() {
  pc::DataplaneConfig c;
  // IPv6 port addresses too, so neighbour discovery and ICMPv6 echo are reachable from the input.
  c.ports.push_back(pc::PortAddresses{"outside", {pc::IpPrefix{v4(kAddrOutside), 24}, ipv6_port_address(0x18)}});
  c.ports.push_back(pc::PortAddresses{"inside", {pc::IpPrefix{v4(kAddrInside), 24}, ipv6_port_address(0x19)}});
  pc::ServiceConfig web = service(1, 6, 80, 1);
  web.client_address = pc::ClientAddress::TOA;
  c.services.push_back(web);
  c.services.push_back(service(2, 17, 7, 11));
  pc::ServiceConfig guarded = service(3, 6, 443, 21);
  guarded.synproxy = true;
  c.services.push_back(guarded);
  // TCP :8080 with one server per other forwarding method (NAT also opens the lookup of
  // packets to addresses we do not own; DR and TUN make one-way connections).
  pc::ServiceConfig modes = service(4, 6, 8080, 31);
  modes.servers[0].forward = pc::ForwardMethod::NAT;
  modes.servers[1].forward = pc::ForwardMethod::DR;
  modes.servers[2].forward = pc::ForwardMethod::TUN;
  c.services.push_back(modes);
  // UDP client-address carriage: UOA in both forms and PROXY v2 datagrams (carriage/uoa.h, proxy_dgram.h).
  const pc::ClientAddress udp_modes[] = {pc::ClientAddress::UOA_IPO, pc::ClientAddress::UOA_OPP, pc::ClientAddress::PROXY_V2};
  for (uint32_t i = 0; i < 3; i++) {
    pc::ServiceConfig carried = service(5 + i, 17, static_cast<uint16_t>(53 + i), 41 + 10 * i);
    carried.client_address = udp_modes[i];
    c.services.push_back(carried);
  }
  return c;
}

[[noreturn]] void fail(const char* what, const pc::Status& st) {
  fprintf(stderr, "pipeline_fuzz: %s: %s\n", what, st.message.c_str());
  abort();
}

pc::Dataplane& started_dataplane() {
  static bool started = false;
  pc::Dataplane& dp = pc::dataplane();
  if (started) return dp;
  pc::StartOptions o;
  o.eal = {"-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry", "--log-level=lib.eal:error"};
  o.conn_capacity = 4096;
  o.mbufs = 8191;
  const uint8_t macs[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
  for (int i = 0; i < 2; i++) {
    pc::PortSpec p;
    p.name = kPortNames[i];
    p.device = "ring";
    p.has_mac = true;
    memcpy(p.mac, macs[i], 6);
    o.ports.push_back(p);
  }
  std::vector<pc::PortInfo> infos;
  pc::Status st = dp.start(o, &infos);
  if (!st.ok()) fail("start", st);
  uint64_t version = 0;
  st = dp.apply(lab_config(), &version);
  if (!st.ok()) fail("apply", st);
  uint32_t received = 0;
  dp.step(&received);
  started = true;
  return dp;
}

// A host's answer to the data plane's ARP request: MAC 02:00:<its IPv4 address>.
bool arp_reply_for(const std::vector<uint8_t>& request, std::vector<uint8_t>* reply) {
  if (request.size() < 42 || request[12] != 0x08 || request[13] != 0x06 || request[21] != 1) return false;
  *reply = request;
  uint8_t* r = reply->data();
  const uint8_t host_mac[6] = {2, 0, request[38], request[39], request[40], request[41]};
  memcpy(r, request.data() + 6, 6);  // to the asker
  memcpy(r + 6, host_mac, 6);
  r[21] = 2;                          // reply
  memcpy(r + 32, request.data() + 22, 10);  // target = the asker's MAC + IP
  memcpy(r + 22, host_mac, 6);        // sender = the host
  memcpy(r + 28, request.data() + 38, 4);
  return true;
}

void drain(pc::Dataplane& dp, bool answer_arp) {
  for (int port = 0; port < 2; port++) {
    std::vector<std::vector<uint8_t>> out;
    dp.capture(kPortNames[port], &out);
    if (!answer_arp) continue;
    std::vector<std::vector<uint8_t>> replies;
    std::vector<uint8_t> reply;
    for (const auto& f : out)
      if (arp_reply_for(f, &reply)) replies.push_back(reply);
    std::vector<pc::Frame> frames;
    for (const auto& r : replies) frames.push_back(pc::Frame{r.data(), r.size()});
    uint32_t accepted = 0;
    if (!frames.empty()) dp.inject(kPortNames[port], frames, 0, &accepted);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pc::Dataplane& dp = started_dataplane();
  uint32_t received = 0;
  size_t at = 0;
  while (at + 3 <= size) {
    uint8_t control = data[at];
    size_t length = (static_cast<size_t>(data[at + 1]) << 8) | data[at + 2];
    at += 3;
    if (length > size - at) length = size - at;
    if (length > kMaxFrameBytes) length = kMaxFrameBytes;
    unsigned clock_shift = (control >> 2) & 7;
    if (clock_shift) dp.advance_clock_us((100000ull << clock_shift) >> 1);
    pc::Frame frame{data + at, length};
    uint32_t accepted = 0;
    dp.inject(kPortNames[control & 1], {frame}, 0, &accepted);
    at += length;
    dp.step(&received);
    drain(dp, control & 2);
    dp.step(&received);  // the ARP replies, and whatever they release
    drain(dp, false);
  }
  // Everything times out: connections, held segments, neighbours still resolving.
  dp.advance_clock_us(kPastEveryTimeoutUs);
  for (int i = 0; i < kArpGiveUpSteps; i++) {
    dp.step(&received);
    drain(dp, false);
    dp.advance_clock_us(1000 * 1000);
  }
  pc::StatsReport stats;
  dp.stats(&stats);
  if (stats.mbufs_in_use != 0 || stats.connections != 0) {
    fprintf(stderr, "pipeline_fuzz: after every timeout: %llu mbufs still in use, %llu connections\n",
            static_cast<unsigned long long>(stats.mbufs_in_use), static_cast<unsigned long long>(stats.connections));
    abort();
  }
  return 0;
}
