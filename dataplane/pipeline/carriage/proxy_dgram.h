// PROXY protocol v2 over UDP: a UDP service with client_address proxy_v2 puts a v2
// header (command PROXY, family/transport 0x12 UDP over IPv4 or 0x22 UDP over IPv6, by
// the client's family) in front of the payload of every datagram toward the server.
// HAProxy's proxy-protocol.txt: for UDP the header and the payload travel in the same
// datagram and the receiver parses the header independently for each one.
//
// Replies pass untouched: PROXY is one-way (the server never sends one), and the spec
// tells a receiver never to guess whether a header is present, so a reply that happens
// to start with the v2 signature is the server's payload and reaches the client as sent.
//
// A datagram that would exceed the MTU with the header, or cannot grow (a fragment: the
// bytes would shift the later fragments' offsets; no headroom), is counted
// (PROXY_DGRAM_SKIPPED) and sent without it, as the issue asks: a server that requires
// the header (as the spec says it must) finds none and drops that one datagram.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/counters.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

// After fullnat_rewrite() of a client datagram on a kUdpCarriageProxyV2 connection: the
// header goes between the UDP header and the payload (headers moved into the headroom),
// UDP length, IP length and both checksums updated (a UDP checksum of 0, "none", stays
// 0); PROXY_DGRAM_ADDED, or PROXY_DGRAM_SKIPPED and unchanged.
void proxy_dgram_process(rte_mbuf* m, ParsedPacket& p, const Conn& c, uint16_t mtu, WorkerCounters& counters);

}  // namespace pc
