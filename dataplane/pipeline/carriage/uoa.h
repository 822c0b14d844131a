// UOA (UDP option of address), the two forms DPVS's uoa kernel module reads on a real
// server (docs/client-address.md has the byte layouts). FullNAT replaces the client's
// address with a LIP; a UDP service with client_address uoa_ipo / uoa_opp tells its
// servers who the client is on the first uoa_datagrams datagrams of each connection:
//
//  - uoa_ipo: an IPv4 option, type 31 (copy 0, class 0), length 8, client port, client
//    IPv4 address, placed right after the fixed 20-byte IPv4 header (before any option
//    the client sent, so an end-of-list there cannot hide it). IPv4 only: IPv6 has no
//    header options (DPVS's ipo mode is IPv4-only too).
//  - uoa_opp: the private protocol 248 header between the IP header and the UDP header:
//    version (high nibble: 1 for an IPv4 client, 2 for IPv6), reserved, next protocol
//    17, length (header + options), then the same option as ipo, length 8 or 20
//    (IPv6 address). The IP header says protocol / next header 248.
//
// Either way the UDP header and payload are unchanged, so the UDP checksum stays the one
// the server verifies once its module has taken the UOA out (the pseudo-header is
// addresses, 17 and the UDP length: neither IP options nor the 248 header count).
// No room (option space, IPv6 extension headers, a fragment, headroom) or over the MTU:
// counted, sent without, and the next datagram tries again (uoa_left counts only
// datagrams that carried it).
//
// A UOA module believes the first type-31 option it finds, so none may reach a server
// from a client: uoa_remove_client_options() blanks them on every client datagram of a
// UDP FullNAT connection, UOA service or not.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/counters.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

constexpr uint8_t kUoaOptionType = 31;      // DPVS IPOPT_UOA: 31 | IPOPT_CONTROL (class 0, not copied)
constexpr uint8_t kUoaOptionLengthV4 = 8;   // type, length, port, IPv4 address
constexpr uint8_t kUoaOptionLengthV6 = 20;  // type, length, port, IPv6 address
constexpr uint8_t kOppProtocol = 248;       // DPVS IPPROTO_OPT
constexpr uint8_t kOppHeaderLength = 4;     // version/reserved, protocol, length (2)
constexpr uint8_t kOppVersionIpv4 = 1;      // OPPHDR_IPV4, in the high nibble
constexpr uint8_t kOppVersionIpv6 = 2;      // OPPHDR_IPV6

void uoa_remove_client_options_slow(ParsedPacket& p, WorkerCounters& counters);

// Client → server IPv4 datagram of a UDP FullNAT connection: every option of type 31
// becomes NOPs (a malformed option list has its unparsed rest zeroed when it holds a 31
// byte), header checksum updated incrementally, UOA_CLIENT_OPTION_REMOVED per option.
// An IPv4 header without options (nearly all) costs one compare.
inline void uoa_remove_client_options(ParsedPacket& p, WorkerCounters& counters) {
  if (p.ip && p.ip_header_len > sizeof(rte_ipv4_hdr)) uoa_remove_client_options_slow(p, counters);
}

// After fullnat_rewrite() of a client datagram on a UOA connection with uoa_left > 0:
// puts the UOA in (grows the mbuf at the front, headers moved; p's pointers and lengths
// follow), counts UOA_ADDED and uoa_left down; or counts UOA_NO_ROOM / UOA_OVER_MTU and
// leaves the datagram as it was.
void uoa_process(rte_mbuf* m, ParsedPacket& p, Conn& c, uint16_t mtu, WorkerCounters& counters);

}  // namespace pc
