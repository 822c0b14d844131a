#include "pipeline/l2l3/translate_icmp.h"

#include <algorithm>
#include <cstring>
#include <rte_ip.h>
#include "pipeline/l2l3/checksum.h"

namespace pc {

namespace {

constexpr uint8_t kIcmp4DestUnreachable = 3, kIcmp4TimeExceeded = 11;
constexpr uint8_t kIcmp4ProtocolUnreachable = 2, kIcmp4PortUnreachable = 3, kIcmp4FragNeeded = 4;
constexpr uint8_t kIcmp6DestUnreachable = 1, kIcmp6PacketTooBig = 2, kIcmp6TimeExceeded = 3, kIcmp6ParamProblem = 4;
constexpr uint8_t kIcmp6UnrecognizedNextHeader = 1;  // code of type 4
constexpr uint8_t kIpv6NextHeaderOffset = 6;         // where a type-4 code-1 pointer points
constexpr uint8_t kIpprotoIcmpv6 = 58;
constexpr uint16_t kIcmpHeaderLen = 8;
constexpr uint16_t kQuotedL4Min = 8;  // both ports, as every router quotes at least (RFC 792)
// An ICMPv6 error must fit the IPv6 minimum MTU (RFC 4443 2.4(c)); an ICMPv4 error,
// 576 bytes (RFC 1812 4.3.2.3). The quoted L4 bytes are cut to what fits.
constexpr uint16_t kIcmp6ErrorMax = 1280, kIcmp4ErrorMax = 576;
constexpr uint16_t kMinIpv6Mtu = 1280, kMinIpv4Mtu = 68;
constexpr uint16_t kHeaderGrowth = sizeof(rte_ipv6_hdr) - sizeof(rte_ipv4_hdr);

inline uint16_t l2_length(const ParsedPacket& p, const void* l3) {
  return static_cast<uint16_t>(static_cast<const uint8_t*>(l3) - reinterpret_cast<const uint8_t*>(p.eth));
}

// Makes the single-segment frame exactly len bytes long; false when it cannot grow.
bool resize_frame(rte_mbuf* m, uint16_t len) {
  uint16_t now = rte_pktmbuf_data_len(m);
  if (len > now) return rte_pktmbuf_append(m, static_cast<uint16_t>(len - now)) != nullptr;
  if (len < now) rte_pktmbuf_trim(m, static_cast<uint16_t>(now - len));
  return true;
}

inline void put_ports(uint8_t* l4, uint16_t sport, uint16_t dport) {
  store16(l4, sport);
  store16(l4 + 2, dport);
}

void fill_ipv6(rte_ipv6_hdr* h, uint8_t traffic_class, uint16_t payload_len, uint8_t proto, uint8_t hop_limit,
               const IpAddr& src, const IpAddr& dst) {
  h->vtc_flow = rte_cpu_to_be_32((6u << 28) | (static_cast<uint32_t>(traffic_class) << RTE_IPV6_HDR_TC_SHIFT));
  h->payload_len = rte_cpu_to_be_16(payload_len);
  h->proto = proto;
  h->hop_limits = hop_limit;
  std::memcpy(h->src_addr, src.bytes, 16);
  std::memcpy(h->dst_addr, dst.bytes, 16);
}

void fill_ipv4(rte_ipv4_hdr* h, uint8_t tos, uint16_t total_len, uint16_t fragment_field, uint8_t proto, uint8_t ttl,
               uint32_t src, uint32_t dst) {
  h->version_ihl = RTE_IPV4_VHL_DEF;
  h->type_of_service = tos;
  h->total_length = rte_cpu_to_be_16(total_len);
  h->packet_id = 0;
  h->fragment_offset = fragment_field;
  h->time_to_live = ttl;
  h->next_proto_id = proto;
  h->src_addr = src;
  h->dst_addr = dst;
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
}

// The family an error is translated to: its IP header (outer and quoted alike), EtherType,
// ICMP protocol and the size its errors may have.
struct ErrorFamily {
  bool ipv6;
  uint16_t header_len;
  uint16_t ether_type;
  uint8_t icmp_protocol;
  uint16_t error_max;
};
constexpr ErrorFamily kToIpv6{true, sizeof(rte_ipv6_hdr), RTE_ETHER_TYPE_IPV6, kIpprotoIcmpv6, kIcmp6ErrorMax};
constexpr ErrorFamily kToIpv4{false, sizeof(rte_ipv4_hdr), RTE_ETHER_TYPE_IPV4, IPPROTO_ICMP, kIcmp4ErrorMax};

// The frame step both directions share. m becomes L2, outer header, ICMP header (type,
// code, checksum 0, rest), quoted header, quoted L4: the first bytes of the `available` at
// quoted_l4 that fit `to`'s error size, ports rewritten per t. The two IP headers are the
// caller's to write (read what it needs of the old quote first), then finish_error().
// Returns the ICMP header, or null when the frame cannot grow.
uint8_t* rebuild_frame(rte_mbuf* m, const ParsedPacket& p, const ErrorFamily& to, uint8_t type, uint8_t code,
                       uint32_t rest, const uint8_t* quoted_l4, uint32_t available, const IcmpErrorTranslation& t,
                       uint16_t* icmp_len) {
  const uint16_t fixed = static_cast<uint16_t>(2 * to.header_len + kIcmpHeaderLen);
  const uint16_t quoted_len = static_cast<uint16_t>(std::min<uint32_t>(available, to.error_max - fixed));
  uint8_t quote[std::max(kIcmp6ErrorMax, kIcmp4ErrorMax)];
  std::memcpy(quote, quoted_l4, quoted_len);  // the new headers overwrite where it is

  const uint16_t l2_len = to.ipv6 ? l2_length(p, p.ip) : l2_length(p, p.ip6);
  if (!resize_frame(m, static_cast<uint16_t>(l2_len + fixed + quoted_len))) return nullptr;
  uint8_t* front = rte_pktmbuf_mtod(m, uint8_t*);
  store16(front + l2_len - 2, rte_cpu_to_be_16(to.ether_type));
  uint8_t* icmp = front + l2_len + to.header_len;
  icmp[0] = type, icmp[1] = code;
  store16(icmp + 2, 0);
  const uint32_t rest_be = rte_cpu_to_be_32(rest);
  std::memcpy(icmp + 4, &rest_be, 4);
  uint8_t* l4 = icmp + kIcmpHeaderLen + to.header_len;
  std::memcpy(l4, quote, quoted_len);
  put_ports(l4, t.quoted_sport, t.quoted_dport);
  *icmp_len = static_cast<uint16_t>(kIcmpHeaderLen + to.header_len + quoted_len);
  return icmp;
}

// With both IP headers written: the ICMP checksum (ICMPv6's over the pseudo-header too),
// and p's pointers and lengths describe the new frame.
void finish_error(ParsedPacket& p, const ErrorFamily& to, uint8_t* icmp, uint16_t icmp_len) {
  uint8_t* outer = icmp - to.header_len;
  if (to.ipv6) {
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(outer);
    store16(icmp + 2, ipv6_upper_checksum(ip6->src_addr, ip6->dst_addr, to.icmp_protocol, icmp, icmp_len));
  } else {
    store16(icmp + 2, static_cast<uint16_t>(~csum_sum(icmp, icmp_len)));
  }
  p.ip = to.ipv6 ? nullptr : reinterpret_cast<rte_ipv4_hdr*>(outer);
  p.ip6 = to.ipv6 ? reinterpret_cast<rte_ipv6_hdr*>(outer) : nullptr;
  p.ip6_fragment_at = 0;
  p.l4_protocol = to.icmp_protocol;
  p.ip_header_len = to.header_len;
  p.ip_total_len = static_cast<uint16_t>(to.header_len + icmp_len);
  p.icmp = reinterpret_cast<rte_icmp_hdr*>(icmp);
  p.l4_len = icmp_len;
}

}  // namespace

bool icmp4_error_to_icmp6(uint8_t type, uint8_t code, uint8_t* type6, uint8_t* code6) {
  if (type == kIcmp4TimeExceeded) {
    if (code > 1) return false;
    *type6 = kIcmp6TimeExceeded, *code6 = code;  // hop limit exceeded / reassembly time exceeded
    return true;
  }
  if (type != kIcmp4DestUnreachable) return false;
  switch (code) {
    case 0: case 1: case 5: case 6: case 7: case 8: case 11: case 12:
      *type6 = kIcmp6DestUnreachable, *code6 = 0;  // no route to destination
      return true;
    case kIcmp4ProtocolUnreachable:
      *type6 = kIcmp6ParamProblem, *code6 = kIcmp6UnrecognizedNextHeader;
      return true;
    case kIcmp4PortUnreachable:
      *type6 = kIcmp6DestUnreachable, *code6 = 4;
      return true;
    case kIcmp4FragNeeded:
      *type6 = kIcmp6PacketTooBig, *code6 = 0;
      return true;
    case 9: case 10: case 13: case 15:
      *type6 = kIcmp6DestUnreachable, *code6 = 1;  // administratively prohibited
      return true;
    default:
      return false;
  }
}

bool icmp6_error_to_icmp4(uint8_t type, uint8_t code, uint8_t* type4, uint8_t* code4) {
  switch (type) {
    case kIcmp6DestUnreachable: {
      static constexpr uint8_t kCodes[] = {1, 10, 1, 1, kIcmp4PortUnreachable};
      if (code >= sizeof kCodes) return false;
      *type4 = kIcmp4DestUnreachable, *code4 = kCodes[code];
      return true;
    }
    case kIcmp6PacketTooBig:
      *type4 = kIcmp4DestUnreachable, *code4 = kIcmp4FragNeeded;
      return true;
    case kIcmp6TimeExceeded:
      if (code > 1) return false;
      *type4 = kIcmp4TimeExceeded, *code4 = code;
      return true;
    case kIcmp6ParamProblem:
      if (code != kIcmp6UnrecognizedNextHeader) return false;
      *type4 = kIcmp4DestUnreachable, *code4 = kIcmp4ProtocolUnreachable;
      return true;
    default:
      return false;
  }
}

IcmpTranslateResult translate_icmp_error_4to6(rte_mbuf* m, ParsedPacket& p, const IcmpErrorTranslation& t) {
  uint8_t* icmp = reinterpret_cast<uint8_t*>(p.icmp);
  uint8_t type6, code6;
  if (!icmp4_error_to_icmp6(icmp[0], icmp[1], &type6, &code6)) return IcmpTranslateResult::NO_COUNTERPART;
  uint32_t rest = 0;  // the 4 bytes after the checksum, host order
  if (type6 == kIcmp6PacketTooBig) {
    uint32_t mtu4 = rte_be_to_cpu_16(load16(icmp + 6));
    // 0 = a pre-RFC 1191 router that does not say: IPv6's minimum is always safe.
    uint32_t grown = mtu4 + kHeaderGrowth;
    uint32_t mtu6 = mtu4 && grown > t.mtu_reduction ? grown - t.mtu_reduction : kMinIpv6Mtu;
    rest = std::max<uint32_t>(mtu6, kMinIpv6Mtu);
  } else if (type6 == kIcmp6ParamProblem) {
    rest = kIpv6NextHeaderOffset;
  }

  if (p.l4_len < kIcmpHeaderLen + sizeof(rte_ipv4_hdr) + kQuotedL4Min) return IcmpTranslateResult::MALFORMED;
  const auto* inner = reinterpret_cast<const rte_ipv4_hdr*>(icmp + kIcmpHeaderLen);
  uint16_t inner_header_len = static_cast<uint16_t>((inner->version_ihl & 0x0f) * 4);
  uint16_t inner_total_len = rte_be_to_cpu_16(inner->total_length);
  if ((inner->version_ihl >> 4) != 4 || inner_header_len < sizeof(rte_ipv4_hdr) ||
      p.l4_len < kIcmpHeaderLen + inner_header_len + kQuotedL4Min || inner_total_len < inner_header_len + kQuotedL4Min)
    return IcmpTranslateResult::MALFORMED;
  uint16_t inner_payload_len = static_cast<uint16_t>(inner_total_len - inner_header_len);
  uint8_t inner_tos = inner->type_of_service, inner_proto = inner->next_proto_id, inner_ttl = inner->time_to_live;
  const uint8_t* quoted_l4 = icmp + kIcmpHeaderLen + inner_header_len;
  uint16_t icmp_len;
  uint8_t* icmp6 = rebuild_frame(m, p, kToIpv6, type6, code6, rest, quoted_l4,
                                 p.l4_len - kIcmpHeaderLen - inner_header_len, t, &icmp_len);
  if (!icmp6) return IcmpTranslateResult::NO_HEADROOM;
  fill_ipv6(reinterpret_cast<rte_ipv6_hdr*>(icmp6 - sizeof(rte_ipv6_hdr)), 0, icmp_len, kIpprotoIcmpv6, t.hop_limit,
            t.outer_src, t.outer_dst);
  fill_ipv6(reinterpret_cast<rte_ipv6_hdr*>(icmp6 + kIcmpHeaderLen), inner_tos, inner_payload_len, inner_proto,
            inner_ttl, t.quoted_src, t.quoted_dst);
  finish_error(p, kToIpv6, icmp6, icmp_len);
  return IcmpTranslateResult::OK;
}

IcmpTranslateResult translate_icmp_error_6to4(rte_mbuf* m, ParsedPacket& p, const IcmpErrorTranslation& t) {
  uint8_t* icmp = reinterpret_cast<uint8_t*>(p.icmp);
  uint8_t type4, code4;
  if (!icmp6_error_to_icmp4(icmp[0], icmp[1], &type4, &code4)) return IcmpTranslateResult::NO_COUNTERPART;
  uint16_t mtu_field = 0;
  if (type4 == kIcmp4DestUnreachable && code4 == kIcmp4FragNeeded) {
    uint32_t mtu6;
    std::memcpy(&mtu6, icmp + 4, 4);
    mtu6 = rte_be_to_cpu_32(mtu6);
    uint32_t taken = kHeaderGrowth + t.mtu_reduction;
    uint32_t mtu4 = mtu6 > taken ? mtu6 - taken : 0;
    mtu_field = static_cast<uint16_t>(std::min<uint32_t>(std::max<uint32_t>(mtu4, kMinIpv4Mtu), 0xffff));
  }

  if (p.l4_len < kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + kQuotedL4Min) return IcmpTranslateResult::MALFORMED;
  const auto* inner = reinterpret_cast<const rte_ipv6_hdr*>(icmp + kIcmpHeaderLen);
  if ((rte_be_to_cpu_32(inner->vtc_flow) >> 28) != 6) return IcmpTranslateResult::MALFORMED;
  uint16_t inner_payload_len = rte_be_to_cpu_16(inner->payload_len);
  uint8_t inner_tc = static_cast<uint8_t>(rte_be_to_cpu_32(inner->vtc_flow) >> RTE_IPV6_HDR_TC_SHIFT);
  uint8_t inner_proto = inner->proto, inner_hop_limit = inner->hop_limits;
  const uint8_t* quoted_l4 = icmp + kIcmpHeaderLen + sizeof(rte_ipv6_hdr);
  uint16_t icmp_len;
  uint8_t* icmp4 = rebuild_frame(m, p, kToIpv4, type4, code4, mtu_field, quoted_l4,
                                 p.l4_len - kIcmpHeaderLen - sizeof(rte_ipv6_hdr), t, &icmp_len);
  if (!icmp4) return IcmpTranslateResult::NO_HEADROOM;
  fill_ipv4(reinterpret_cast<rte_ipv4_hdr*>(icmp4 - sizeof(rte_ipv4_hdr)), 0,
            static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_len), 0, IPPROTO_ICMP, t.hop_limit, ip_v4(t.outer_src),
            ip_v4(t.outer_dst));
  fill_ipv4(reinterpret_cast<rte_ipv4_hdr*>(icmp4 + kIcmpHeaderLen), inner_tc,
            static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + inner_payload_len), rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG),
            inner_proto, inner_hop_limit, ip_v4(t.quoted_src), ip_v4(t.quoted_dst));
  finish_error(p, kToIpv4, icmp4, icmp_len);
  return IcmpTranslateResult::OK;
}

}  // namespace pc
