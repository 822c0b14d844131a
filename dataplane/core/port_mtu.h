// Port MTU: how big a receive buffer a port needs, what an af_packet device needs to
// carry frames of its MTU, and setting the MTU on the device.
//
// Every frame is received into ONE mbuf (no RX scatter): the pipeline reads headers
// through plain pointers, and a linear frame keeps it that way. So the packet pool's
// data room is sized for the largest frame any port can deliver; it stays at DPDK's
// default 2048 bytes while every port's MTU is ≤ 2030 (1500 ports cost nothing more).
// A frame that still arrives in several mbufs is dropped as `rx_segmented`.
//
// Errors name the config field (`ports[i].mtu`, `ports[i].device`) and the limit.
#pragma once
#include <cstdint>
#include <string>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include "core/status.h"

namespace pc {

struct PortSpec;

// What a frame adds to the IP MTU: Ethernet header plus one VLAN tag of slack (the
// allowance DPDK's own MTU arithmetic makes, in place of its 4-byte CRC).
constexpr uint32_t kFrameOverheadBytes = RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
// DPDK's default mbuf data room (RTE_MBUF_DEFAULT_DATAROOM), kept for normal MTUs.
constexpr uint32_t kDefaultRxBufferBytes = 2048;

// Data bytes (headroom excluded) an mbuf needs for every frame the port can deliver:
// MTU + overhead, and for af_packet what its PMD insists on (frame slot − 32 bytes).
// Error (PORT_FAILED, naming ports[i].mtu) when an af_packet device string sets a
// frame slot (framesz) too small for the MTU, or asks for a buffer over 64 KiB.
Status port_rx_buffer_bytes(const PortSpec& spec, uint32_t* bytes);

// The device string to probe: net_af_packet gets `qpairs=<queues>` when several workers
// need queues, and a frame slot that fits the MTU (framesz, blocksz, framecnt) when the
// operator set none and the PMD's default 2048-byte slot is too small.
std::string port_device_args(const PortSpec& spec, uint16_t queues);

// Sets spec.mtu on the configured (not started) device. A driver without MTU control
// is fine when it takes frames of that size anyway (max_rx_pktlen); af_packet, whose
// ethdev info claims 1518 bytes although it copies whole ring slots, gets the MTU set
// on its kernel interface directly (what its own mtu_set does). Error (PORT_FAILED,
// naming ports[i].mtu) when the device cannot take the MTU.
Status port_set_mtu(const PortSpec& spec, uint16_t port_id, const rte_eth_dev_info& info);

}  // namespace pc
