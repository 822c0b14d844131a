// Reply steering in the NIC (DESIGN.md §3), where the device can do it: rte_flow rules
// that match LIP (IPv4 or IPv6) + a TCP/UDP destination-port residue and send to that worker's queue,
// so replies reach the worker that owns their connection without a hand-off.
//
// A residue class `lport % workers == w` is a port mask only when workers is a power
// of two (lport & (workers - 1) == w); other counts, and devices that refuse such a
// rule (net_af_packet, net_ring, net_tap, virtio: the usual lab and VM ports) rely on
// the worker-to-worker rings alone (core/redirect.h). The rings stay in the path either
// way, so a rule that is missing or late costs a hand-off, never a drop.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "common/ip_address.h"
#include "core/ports.h"

namespace pc {

// Asks the device (rte_flow_validate) whether it takes the rules we would install, per
// family: sets port->flow_steering (IPv4 LIPs) and port->flow_steering6 (IPv6 LIPs).
// Needs the port started with `workers` queues.
void flow_steering_probe(Port* port, uint16_t workers);

// Replaces the port's rules with one per LIP, protocol and worker, for each family the
// probe accepted. A refused IPv4 rule removes every rule and clears both flags; a refused
// IPv6 rule removes the IPv6 rules and clears flow_steering6 only. Then the rings carry
// those replies, *error says which rule, and false is returned.
bool flow_steering_install(Port* port, uint16_t workers, const std::vector<IpAddr>& lips, std::string* error);

}  // namespace pc
