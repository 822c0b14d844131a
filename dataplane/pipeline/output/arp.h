// ARP (RFC 826), IPv4's half of neighbour resolution: the request the neighbour table
// (neigh.h) sends, and the ARP input.
//
// Input: learn a sender from ARP requests targeted at an address we own on that port and
// from replies to us, only when the sender is inside a connected prefix of the receiving
// port or is a next hop we asked about (keeps strangers out of the table); answer requests
// for owned addresses in place.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/ip_address.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/output/neigh.h"
#include "pipeline/snapshot.h"

namespace pc {

// A request is 42 bytes, padded to the minimum Ethernet payload.
constexpr uint16_t kArpRequestFrameBytes = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;

// Writes a broadcast "who has target, tell source" from our_mac at frame (kArpRequestFrameBytes).
void arp_write_request(uint8_t* frame, const uint8_t* our_mac, const IpAddr& source, const IpAddr& target);

// An ARP frame received on in_port (already validated by parse_arp): learn, answer or drop.
void neigh_input_arp(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                     uint64_t now_us, TxQueues& tx);

}  // namespace pc
