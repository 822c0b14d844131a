// TOA (TCP option address): FullNAT replaces the client's address with a LIP, so a
// service with client_address "toa" tells its real servers who the client is in a
// TCP option (LVS/DPVS layout, PROTOCOL.md §3.1), placed right after the 20-byte TCP
// header: kind 254, then by the CLIENT's family (not the packet's: a NAT64 connection's
// server side is IPv4 but its client is IPv6) either length 8 + port + IPv4 address, or
// length 20 + port + IPv6 address (DPVS's kmod/toa reads both under kind 254). Port and
// address network order.
//
// The real server's TOA kernel module reads it from the ACK that completes the
// handshake, so that ACK and the first data segment carry it (each once per
// connection, remembered in Conn flags only once the option is really in). The
// server's SYN-ACK MSS is lowered by the connection's option length so a grown segment
// still fits.
//
// The server's module believes the first kind-254 option it finds, so no option of a
// TOA kind may ever reach a server from a client: toa_remove_client_options() blanks
// them on every translated client segment, TOA service or not.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include "common/counters.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

constexpr uint8_t kToaKind = 254;
constexpr uint8_t kToaLengthV4 = 8;   // kind, length, port, IPv4 address
constexpr uint8_t kToaLengthV6 = 20;  // kind, length, port, IPv6 address

// The option a connection's segments carry: sized by the client's family.
inline uint8_t toa_option_length(const IpAddr& client) { return ip_is_v4(client) ? kToaLengthV4 : kToaLengthV6; }
constexpr uint16_t kTcpMaxHeaderLen = 60;  // data offset is 4 bits of 32-bit words

// The option kinds TOA modules read: 254 (LVS/DPVS, both families) and 253 (Alibaba
// LVS's IPv6 TOA) — RFC 4727's two experimental kinds.
inline bool is_toa_kind(uint8_t kind) { return kind == 254 || kind == 253; }

void toa_remove_client_options_slow(ParsedPacket& p, WorkerCounters& counters);

// Client → server TCP segment of a translated connection (FullNAT, NAT): every option
// of a TOA kind is overwritten with NOPs, and an unparseable remainder of the option
// area (after an end-of-list or a malformed length) that holds such a byte is zeroed,
// so neither a strict nor a lenient parser finds one; TCP checksum updated
// incrementally, TOA_CLIENT_OPTION_REMOVED per option. Segments without options or
// with only NOP NOP timestamp (nearly all of them) are recognised from one or two loads.
inline void toa_remove_client_options(ParsedPacket& p, WorkerCounters& counters) {
  uint8_t words = p.tcp->data_off >> 4;
  if (words == 5) return;
  if (words == 8) {
    uint32_t first4;
    std::memcpy(&first4, reinterpret_cast<const uint8_t*>(p.tcp) + sizeof(rte_tcp_hdr), 4);
    if (first4 == RTE_BE32(0x0101080a)) return;  // NOP NOP TS(10): the 12 bytes are spoken for
  }
  toa_remove_client_options_slow(p, counters);
}

// Called after fullnat_rewrite() for TCP packets of a kConnToa connection.
// INPUT: inserts the option when this is the handshake ACK or the first data segment
// still without one — grows the mbuf by toa_option_length(c.client_addr) (8 or 20) at
// the front (headers moved),
// updates data offset, IP total length and both checksums; p's pointers and lengths
// follow. Skips (counted TOA_NO_ROOM / TOA_OVER_MTU, forwarded without it, tried again
// on the next segment) when the option space is full, there is no headroom, or the
// result would exceed mtu. Before inserting, the segment's TCP checksum is verified in
// full: false means it is bad and the caller drops it (CLIENT_ADDRESS_BAD_CHECKSUM) —
// the server would drop it too, and the client's retransmission then carries the option.
// OUTPUT: lowers the MSS option of a SYN-ACK by that length (TOA_MSS_LOWERED).
bool toa_process(rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction, uint16_t mtu,
                 WorkerCounters& counters);

}  // namespace pc
