#include "pipeline/egress_mtu.h"

#include "pipeline/checksum.h"
#include "pipeline/forward_modes.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint8_t kOptEnd = 0, kOptNop = 1, kOptMss = 2;

}  // namespace

uint16_t mss_toward(Worker* w, const Snapshot& s, uint32_t addr, uint16_t mss) {
  NextHop hop;
  if (!route_lookup(s, addr, &hop) || hop.port_index >= kMaxPorts) return mss;
  uint16_t mtu = w->port_mtus[hop.port_index];
  if (mtu <= kTcpIpv4HeaderBytes || mtu - kTcpIpv4HeaderBytes >= mss) return mss;
  return static_cast<uint16_t>(mtu - kTcpIpv4HeaderBytes);
}

void mss_clamp(Worker* w, const Snapshot& s, ParsedPacket& p, uint16_t egress_mtu) {
  uint16_t mtu = egress_mtu;
  NextHop back;
  if (route_lookup(s, p.ip->src_addr, &back) && back.port_index < kMaxPorts && w->port_mtus[back.port_index] < mtu)
    mtu = w->port_mtus[back.port_index];
  if (mtu <= kTcpIpv4HeaderBytes) return;
  uint16_t limit = static_cast<uint16_t>(mtu - kTcpIpv4HeaderBytes);
  uint8_t* tcp = reinterpret_cast<uint8_t*>(p.tcp);
  uint32_t end = (p.tcp->data_off >> 4) * 4u;
  for (uint32_t at = sizeof(rte_tcp_hdr); at < end;) {
    uint8_t kind = tcp[at];
    if (kind == kOptEnd) return;
    if (kind == kOptNop) {
      at++;
      continue;
    }
    if (at + 1 >= end || tcp[at + 1] < 2 || at + tcp[at + 1] > end) return;  // malformed: the receiver's business
    if (kind == kOptMss && tcp[at + 1] == 4) {
      uint16_t old_word = load16(tcp + at + 2);
      if (rte_be_to_cpu_16(old_word) <= limit) return;
      uint16_t new_word = rte_cpu_to_be_16(limit);
      // The option may sit at an odd offset: update the checksum over the 16-bit words
      // as they are aligned in the header.
      uint32_t first = (at + 2) & ~1u;
      uint32_t words = (at + 2) % 2 ? 2 : 1;
      uint16_t before[2] = {load16(tcp + first), words == 2 ? load16(tcp + first + 2) : uint16_t{0}};
      store16(tcp + at + 2, new_word);
      uint16_t check = p.tcp->cksum;
      check = csum_replace16(check, before[0], load16(tcp + first));
      if (words == 2) check = csum_replace16(check, before[1], load16(tcp + first + 2));
      p.tcp->cksum = check;
      w->counters->event(Event::MSS_CLAMPED);
      return;
    }
    at += tcp[at + 1];
  }
}

bool egress_mtu_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint16_t egress_mtu,
                     uint64_t now_us, TxQueues& tx) {
  if (egress_mtu == 0 || p.ip_total_len <= egress_mtu) return true;
  if (!(p.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))) return true;  // ipv4_output fragments it
  send_frag_needed(w, s, p, egress_mtu, now_us, tx);
  worker_discard(w, m);
  w->counters->drop(DropReason::EGRESS_MTU_EXCEEDED);
  return false;
}

}  // namespace pc
