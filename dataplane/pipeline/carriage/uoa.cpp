#include "pipeline/carriage/uoa.h"

#include <cstring>
#include <rte_byteorder.h>
#include "pipeline/carriage/grow.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/parse.h"

namespace pc {

namespace {

constexpr uint8_t kIpOptEnd = 0;
constexpr uint8_t kIpOptNop = 1;
constexpr uint16_t kIpv4MaxHeaderLen = 60;  // IHL is 4 bits of 32-bit words

// Overwrites bytes [from, to) of the IPv4 header with `fill`, folding the change into the
// header checksum word by word (a corrupted header stays detectably corrupted).
void fill_ipv4_bytes(rte_ipv4_hdr* ip, uint32_t from, uint32_t to, uint8_t fill) {
  uint8_t* base = reinterpret_cast<uint8_t*>(ip);
  uint32_t first_word = from & ~1u, end_word = (to + 1) & ~1u;
  uint32_t sum = static_cast<uint16_t>(~ip->hdr_checksum);
  for (uint32_t i = first_word; i < end_word; i += 2) sum += static_cast<uint16_t>(~load16(base + i));
  std::memset(base + from, fill, to - from);
  for (uint32_t i = first_word; i < end_word; i += 2) sum += load16(base + i);
  ip->hdr_checksum = static_cast<uint16_t>(~csum_finish(sum));
}

// Bytes Linux's option parser never reads (after an end-of-list, or from a malformed
// option on) but a lenient one might: zeroed when any of them is a UOA type.
bool blank_unparsed_tail(rte_ipv4_hdr* ip, uint32_t from, uint32_t end) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(ip);
  for (uint32_t at = from; at < end; at++) {
    if (base[at] == kUoaOptionType) {
      fill_ipv4_bytes(ip, from, end, kIpOptEnd);
      return true;
    }
  }
  return false;
}

// The option both forms carry: type 31, length, client port, client address (network order).
void write_option(uint8_t* at, const Conn& c, uint8_t option_length) {
  at[0] = kUoaOptionType;
  at[1] = option_length;
  std::memcpy(at + 2, &c.client_port, 2);
  if (option_length == kUoaOptionLengthV4) {
    const uint32_t client_v4 = ip_v4(c.client_addr);
    std::memcpy(at + 4, &client_v4, 4);
  } else {
    std::memcpy(at + 4, c.client_addr.bytes, 16);
  }
}

// The IPv4 header's first word (version, IHL, TOS) grows by `words` 32-bit words of options.
void ipv4_grow_header(rte_ipv4_hdr* ip, uint8_t words) {
  uint16_t before = load16(ip);
  ip->version_ihl = static_cast<uint8_t>(ip->version_ihl + words);
  ip->hdr_checksum = csum_replace16(ip->hdr_checksum, before, load16(ip));
}

void ipv4_set_protocol(rte_ipv4_hdr* ip, uint8_t protocol) {
  const uint8_t* ttl_word = &ip->time_to_live;
  uint16_t before = load16(ttl_word);
  ip->next_proto_id = protocol;
  ip->hdr_checksum = csum_replace16(ip->hdr_checksum, before, load16(ttl_word));
}

void ipv4_add_total_length(rte_ipv4_hdr* ip, uint16_t bytes) {
  uint16_t before = ip->total_length;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(before) + bytes));
  ip->hdr_checksum = csum_replace16(ip->hdr_checksum, before, ip->total_length);
}

// The bytes the form adds to this datagram, or 0 when it has no room for them (counted by
// the caller): ipo needs option space in the IPv4 header; opp goes right after the IP
// header, so an IPv6 datagram with extension headers (whose last next header would have
// to change, DPVS does not either) cannot take it. A fragment takes neither: the bytes
// would shift the offsets of the fragments after it.
uint16_t growth(const ParsedPacket& p, bool ipo, uint8_t option_length) {
  if (p.ip6) {
    if (ipo || p.ip_header_len != sizeof(rte_ipv6_hdr)) return 0;
    return static_cast<uint16_t>(kOppHeaderLength + option_length);
  }
  if (ipv4_is_fragment(p.ip)) return 0;
  if (!ipo) return static_cast<uint16_t>(kOppHeaderLength + option_length);
  return p.ip_header_len + option_length <= kIpv4MaxHeaderLen ? option_length : 0;
}

}  // namespace

void uoa_remove_client_options_slow(ParsedPacket& p, WorkerCounters& counters) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(p.ip);
  const uint32_t end = p.ip_header_len;
  for (uint32_t at = sizeof(rte_ipv4_hdr); at < end;) {
    uint8_t type = base[at];
    if (type == kIpOptEnd) {
      if (blank_unparsed_tail(p.ip, at + 1, end)) counters.event(Event::UOA_CLIENT_OPTION_REMOVED);
      return;
    }
    if (type == kIpOptNop) {
      at++;
      continue;
    }
    uint32_t length = at + 1 < end ? base[at + 1] : 0;
    if (length < 2 || at + length > end) {  // no length byte, length 0/1, or past the header
      if (blank_unparsed_tail(p.ip, at, end)) counters.event(Event::UOA_CLIENT_OPTION_REMOVED);
      return;
    }
    if (type == kUoaOptionType) {
      fill_ipv4_bytes(p.ip, at, at + length, kIpOptNop);
      counters.event(Event::UOA_CLIENT_OPTION_REMOVED);
    }
    at += length;
  }
}

void uoa_process(rte_mbuf* m, ParsedPacket& p, Conn& c, uint16_t mtu, WorkerCounters& counters) {
  const bool ipo = c.udp_carriage == kUdpCarriageUoaIpo;
  const uint8_t option_length = ip_is_v4(c.client_addr) ? kUoaOptionLengthV4 : kUoaOptionLengthV6;
  const uint16_t grow = growth(p, ipo, option_length);
  if (!grow) return counters.event(Event::UOA_NO_ROOM);
  if (p.ip_total_len + grow > mtu) return counters.event(Event::UOA_OVER_MTU);

  // ipo: after the fixed IPv4 header (before the client's own options); opp: after the
  // whole IP header. Everything in front of that spot moves toward the headroom.
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t l2_len = static_cast<uint32_t>(l3_header(p) - frame);
  const uint32_t at = l2_len + (ipo ? static_cast<uint32_t>(sizeof(rte_ipv4_hdr)) : p.ip_header_len);
  uint8_t* gap = carriage_open_gap(m, at, grow);
  if (!gap) return counters.event(Event::UOA_NO_ROOM);
  uint8_t* start = rte_pktmbuf_mtod(m, uint8_t*);
  p.eth = reinterpret_cast<rte_ether_hdr*>(start);
  if (p.ip6) p.ip6 = reinterpret_cast<rte_ipv6_hdr*>(start + l2_len);
  else p.ip = reinterpret_cast<rte_ipv4_hdr*>(start + l2_len);
  // The UDP header and payload stayed where they were (p.udp is still right).

  if (ipo) {
    write_option(gap, c, option_length);
    ipv4_grow_header(p.ip, option_length / 4);
    p.ip->hdr_checksum = csum_add_bytes(p.ip->hdr_checksum, gap, option_length);
    ipv4_add_total_length(p.ip, grow);
    p.ip_header_len = static_cast<uint16_t>(p.ip_header_len + grow);
  } else {
    gap[0] = static_cast<uint8_t>((p.ip6 ? kOppVersionIpv6 : kOppVersionIpv4) << 4);
    gap[1] = IPPROTO_UDP;
    const uint16_t opp_length = rte_cpu_to_be_16(grow);
    std::memcpy(gap + 2, &opp_length, 2);
    write_option(gap + kOppHeaderLength, c, option_length);
    if (p.ip6) {
      p.ip6->proto = kOppProtocol;
      p.ip6->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(p.ip6->payload_len) + grow));
    } else {
      ipv4_set_protocol(p.ip, kOppProtocol);
      ipv4_add_total_length(p.ip, grow);
    }
  }
  p.ip_total_len = static_cast<uint16_t>(p.ip_total_len + grow);
  c.uoa_left = c.uoa_left - 1;
  counters.event(Event::UOA_ADDED);
}

}  // namespace pc
