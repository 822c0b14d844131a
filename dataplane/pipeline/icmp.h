// ICMP addressed to an owned address: echo requests are answered in place out of
// the receiving port; everything else is ICMP_UNSUPPORTED for now.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "core/counters.h"
#include "core/tx_queues.h"
#include "pipeline/packet.h"

namespace pc {

void icmp_input(rte_mbuf* m, const ParsedPacket& p, uint16_t in_port, const uint8_t* port_mac,
                WorkerCounters& counters, TxQueues& tx);

// Hook for the ICMP-error relay (destination unreachable / fragmentation needed /
// time exceeded quoting a tracked connection, needed for PMTU discovery): will
// translate the quoted header and the outer addresses through the connection and
// forward. Returns false = not handled (the caller counts ICMP_UNSUPPORTED).
bool icmp_relay_error(rte_mbuf* m, const ParsedPacket& p);

}  // namespace pc
