// ICMP addressed to an owned address: echo requests are answered in place out of
// the receiving port; everything else is ICMP_UNSUPPORTED. (Errors about tracked
// connections never get here: the dispatcher hands them to icmp_relay.h first.)
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/counters.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

void icmp_input(rte_mbuf* m, const ParsedPacket& p, uint16_t in_port, const uint8_t* port_mac,
                WorkerCounters& counters, TxQueues& tx);

}  // namespace pc
