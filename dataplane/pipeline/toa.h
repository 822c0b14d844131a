// TOA (TCP option address): FullNAT replaces the client's address with a LIP, so a
// service with client_address "toa" tells its real servers who the client is in a
// TCP option (LVS/DPVS layout, PROTOCOL.md §3.1): kind 254, length 8, client port,
// client IPv4 address (network order), placed right after the 20-byte TCP header.
//
// The real server's TOA kernel module reads it from the ACK that completes the
// handshake, so that ACK and the first data segment carry it (each once per
// connection; Conn flags remember that). The server's SYN-ACK MSS is lowered by
// the option length so a grown segment still fits the path.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "core/counters.h"
#include "pipeline/conn.h"
#include "pipeline/packet.h"

namespace pc {

constexpr uint8_t kToaKind = 254;
constexpr uint8_t kToaLength = 8;
constexpr uint16_t kTcpMaxHeaderLen = 60;  // data offset is 4 bits of 32-bit words

// Called after fullnat_rewrite() for TCP packets of a kConnToa connection.
// INPUT: inserts the option when this is the handshake ACK or the first data
// segment — grows the mbuf by kToaLength at the front (headers moved), updates
// data offset, IP total length and both checksums; p's pointers and lengths follow.
// Skips (counted TOA_NO_ROOM / TOA_OVER_MTU, packet forwarded unchanged) when the
// option space is full, there is no headroom, or the result would exceed mtu.
// OUTPUT: lowers the MSS option of a SYN-ACK by kToaLength (TOA_MSS_LOWERED).
void toa_process(rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction, uint16_t mtu,
                 WorkerCounters& counters);

}  // namespace pc
