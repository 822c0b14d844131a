// Ports: a DPDK ethdev per operator-named port, either an in-memory ring pair
// (device "ring": tests and benchmarks) or a probed device string
// ("net_af_packet0,iface=x", a PCI address, ...). One rx+tx queue per worker;
// with several: RSS where the device hashes, net_af_packet gets `qpairs=<workers>`
// (kernel PACKET_FANOUT_HASH), ring ports one ring pair per queue.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include "core/status.h"

namespace pc {

struct PortSpec {
  std::string name;
  std::string device;
  bool has_mac = false;
  uint8_t mac[6] = {};
  uint16_t mtu = 1500;
  uint16_t index = 0;  // position in the configured ports (errors name ports[index].mtu)
  // Exception path: also create a kernel interface (net_tap, or a ring in test mode)
  // named exception_interface_name(name) for traffic to the port's own addresses.
  bool exception_path = false;
};

// "pcx-" + name, cut to the 15 characters Linux allows for an interface name.
inline std::string exception_interface_name(const std::string& port_name) {
  return ("pcx-" + port_name).substr(0, 15);
}

struct Port {
  std::string name;
  std::string device;
  std::string driver;
  uint16_t port_id = 0;
  bool is_ring = false;
  std::vector<rte_ring*> rx_rings;  // ring ports: what rx_burst reads (inject writes here)
  std::vector<rte_ring*> tx_rings;  // ring ports: what tx_burst writes (capture reads here)
  bool has_port = false;   // an ethdev exists for port_id (created or probed)
  bool configured = false;
  bool started = false;
  uint8_t mac[6] = {};
  uint16_t queues = 1;      // rx/tx queue pairs, one per worker
  bool rss = false;         // configured with RTE_ETH_MQ_RX_RSS (several queues, device hashes)
  bool flow_steering = false;   // rte_flow steers replies to IPv4 LIPs by lport class (core/flow_steering.h)
  bool flow_steering6 = false;  // the same for IPv6 LIPs
};

// Creates, configures (queues rx+tx queues, MTU, MAC) and starts the port.
// On failure everything created so far is undone and the Status is PORT_FAILED
// naming port and device.
Status port_open(const PortSpec& spec, uint16_t queues, rte_mempool* pool, Port* out);

// Stops, closes and removes the device (so the same device string can be probed
// again later in this process), drains and frees ring storage. Harmless twice.
void port_close(Port* port);

// "aa:bb:cc:dd:ee:ff"
std::string format_mac(const uint8_t mac[6]);

}  // namespace pc
