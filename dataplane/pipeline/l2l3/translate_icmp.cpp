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
  constexpr uint16_t kFixed = sizeof(rte_ipv6_hdr) + kIcmpHeaderLen + sizeof(rte_ipv6_hdr);
  uint16_t quoted_len = static_cast<uint16_t>(
      std::min<uint32_t>(p.l4_len - kIcmpHeaderLen - inner_header_len, kIcmp6ErrorMax - kFixed));
  uint8_t quote[kIcmp6ErrorMax];
  std::memcpy(quote, quoted_l4, quoted_len);

  uint16_t l2_len = l2_length(p, p.ip);
  if (!resize_frame(m, static_cast<uint16_t>(l2_len + kFixed + quoted_len))) return IcmpTranslateResult::NO_HEADROOM;
  uint8_t* front = rte_pktmbuf_mtod(m, uint8_t*);
  store16(front + l2_len - 2, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6));
  auto* outer = reinterpret_cast<rte_ipv6_hdr*>(front + l2_len);
  uint16_t icmp_len = static_cast<uint16_t>(kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + quoted_len);
  fill_ipv6(outer, 0, icmp_len, kIpprotoIcmpv6, t.hop_limit, t.outer_src, t.outer_dst);
  uint8_t* icmp6 = front + l2_len + sizeof(rte_ipv6_hdr);
  icmp6[0] = type6, icmp6[1] = code6;
  store16(icmp6 + 2, 0);
  uint32_t rest_be = rte_cpu_to_be_32(rest);
  std::memcpy(icmp6 + 4, &rest_be, 4);
  auto* quoted = reinterpret_cast<rte_ipv6_hdr*>(icmp6 + kIcmpHeaderLen);
  fill_ipv6(quoted, inner_tos, inner_payload_len, inner_proto, inner_ttl, t.quoted_src, t.quoted_dst);
  uint8_t* l4 = icmp6 + kIcmpHeaderLen + sizeof(rte_ipv6_hdr);
  std::memcpy(l4, quote, quoted_len);
  put_ports(l4, t.quoted_sport, t.quoted_dport);

  uint64_t pseudo = static_cast<uint64_t>(csum_sum(t.outer_src.bytes, 16)) + csum_sum(t.outer_dst.bytes, 16) +
                    rte_cpu_to_be_16(icmp_len) + rte_cpu_to_be_16(static_cast<uint16_t>(kIpprotoIcmpv6));
  store16(icmp6 + 2, static_cast<uint16_t>(~csum_sum(icmp6, icmp_len, pseudo)));

  p.ip = nullptr;
  p.ip6 = outer;
  p.ip6_fragment_at = 0;
  p.l4_protocol = kIpprotoIcmpv6;
  p.ip_header_len = sizeof(rte_ipv6_hdr);
  p.ip_total_len = static_cast<uint16_t>(sizeof(rte_ipv6_hdr) + icmp_len);
  p.icmp = reinterpret_cast<rte_icmp_hdr*>(icmp6);
  p.l4_len = icmp_len;
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
  constexpr uint16_t kFixed = sizeof(rte_ipv4_hdr) + kIcmpHeaderLen + sizeof(rte_ipv4_hdr);
  uint16_t quoted_len = static_cast<uint16_t>(
      std::min<uint32_t>(p.l4_len - kIcmpHeaderLen - sizeof(rte_ipv6_hdr), kIcmp4ErrorMax - kFixed));
  uint8_t quote[kIcmp4ErrorMax];
  std::memcpy(quote, quoted_l4, quoted_len);

  uint16_t l2_len = l2_length(p, p.ip6);
  if (!resize_frame(m, static_cast<uint16_t>(l2_len + kFixed + quoted_len))) return IcmpTranslateResult::NO_HEADROOM;
  uint8_t* front = rte_pktmbuf_mtod(m, uint8_t*);
  store16(front + l2_len - 2, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
  auto* outer = reinterpret_cast<rte_ipv4_hdr*>(front + l2_len);
  uint16_t icmp_len = static_cast<uint16_t>(kIcmpHeaderLen + sizeof(rte_ipv4_hdr) + quoted_len);
  fill_ipv4(outer, 0, static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_len), 0, IPPROTO_ICMP, t.hop_limit,
            ip_v4(t.outer_src), ip_v4(t.outer_dst));
  uint8_t* icmp4 = front + l2_len + sizeof(rte_ipv4_hdr);
  icmp4[0] = type4, icmp4[1] = code4;
  store16(icmp4 + 2, 0);
  store16(icmp4 + 4, 0);
  store16(icmp4 + 6, rte_cpu_to_be_16(mtu_field));
  auto* quoted = reinterpret_cast<rte_ipv4_hdr*>(icmp4 + kIcmpHeaderLen);
  fill_ipv4(quoted, inner_tc, static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + inner_payload_len),
            rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG), inner_proto, inner_hop_limit, ip_v4(t.quoted_src),
            ip_v4(t.quoted_dst));
  uint8_t* l4 = icmp4 + kIcmpHeaderLen + sizeof(rte_ipv4_hdr);
  std::memcpy(l4, quote, quoted_len);
  put_ports(l4, t.quoted_sport, t.quoted_dport);
  store16(icmp4 + 2, static_cast<uint16_t>(~csum_sum(icmp4, icmp_len)));

  p.ip = outer;
  p.ip6 = nullptr;
  p.ip6_fragment_at = 0;
  p.l4_protocol = IPPROTO_ICMP;
  p.ip_header_len = sizeof(rte_ipv4_hdr);
  p.ip_total_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_len);
  p.icmp = reinterpret_cast<rte_icmp_hdr*>(icmp4);
  p.l4_len = icmp_len;
  return IcmpTranslateResult::OK;
}

}  // namespace pc
