// ICMP addressed to an owned address: echo requests are answered in place out of
// the receiving port; everything else is ICMP_UNSUPPORTED. (Errors about tracked
// connections never get here: the dispatcher hands them to icmp_relay.h first; nor do
// replies and errors for a port address whose port has an exception path: the kernel's.)
#pragma once
#include <cstdint>
#include <rte_icmp.h>
#include <rte_mbuf.h>
#include "common/counters.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

inline bool icmp_is_echo_request(const ParsedPacket& p) {
  return p.icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && p.icmp->icmp_code == 0;
}

void icmp_input(rte_mbuf* m, const ParsedPacket& p, uint16_t in_port, const uint8_t* port_mac,
                WorkerCounters& counters, TxQueues& tx);

}  // namespace pc
