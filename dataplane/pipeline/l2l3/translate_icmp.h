// ICMP error translation between the families (RFC 7915 4.2 and 5.2), for NAT64
// connections: an ICMPv4 error about a packet we sent to an IPv4 server reaches the IPv6
// client as the ICMPv6 error it would have seen, quoting the packet the client sent, and
// the other way round. Errors without a counterpart (source quench, redirects, a
// parameter problem whose pointer has no IPv6 field) are not translated (RFC 7915 says
// silently drop; we count them).
//
// The message is rebuilt in the same buffer: new outer header, mapped type/code, the
// quoted header in the other family with the tuple the receiver knows, the quoted L4
// bytes after it with their ports rewritten (their checksum is left alone: a quote is
// never verified), and a fresh ICMP checksum (ICMPv6's covers the pseudo-header).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/ip_address.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

// What the translated error says, every address in the family it is translated to.
struct IcmpErrorTranslation {
  IpAddr outer_src, outer_dst;            // the error's own header
  IpAddr quoted_src, quoted_dst;          // the quoted packet as its receiver sent it
  uint16_t quoted_sport, quoted_dport;    // network order
  uint16_t mtu_reduction;                 // bytes our carriage adds (TOA), taken off a reported MTU
  uint8_t hop_limit;                      // of the translated error
};

enum class IcmpTranslateResult : uint8_t { OK, NO_COUNTERPART, MALFORMED, NO_HEADROOM };

// ICMPv4 type/code to ICMPv6 (RFC 7915 4.2); false when there is none. Parameter
// problems are not mapped (their pointer would need a per-field table; rare for a
// translated TCP/UDP flow), except IPv4's protocol unreachable, which becomes IPv6's
// "unrecognized next header" pointing at the Next Header field.
bool icmp4_error_to_icmp6(uint8_t type, uint8_t code, uint8_t* type6, uint8_t* code6);
// ICMPv6 type/code to ICMPv4 (RFC 7915 5.2); false when there is none. IPv6's
// "unrecognized next header" becomes IPv4's protocol unreachable; other parameter
// problems are not mapped.
bool icmp6_error_to_icmp4(uint8_t type, uint8_t code, uint8_t* type4, uint8_t* code4);

// p: an ICMPv4 error whose quote is an IPv4 header and at least 8 bytes of its L4
// header (else MALFORMED). Becomes an ICMPv6 error per t; p's pointers follow.
IcmpTranslateResult translate_icmp_error_4to6(rte_mbuf* m, ParsedPacket& p, const IcmpErrorTranslation& t);
// p: an ICMPv6 error whose quote is an IPv6 header without extension headers and at
// least 8 bytes of its L4 header (else MALFORMED). Becomes an ICMPv4 error per t (IPv4-mapped addresses).
IcmpTranslateResult translate_icmp_error_6to4(rte_mbuf* m, ParsedPacket& p, const IcmpErrorTranslation& t);

}  // namespace pc
