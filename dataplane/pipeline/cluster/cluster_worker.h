// A worker's share of the cluster hand-off (handoff.h): its foreign-flow table and the two
// rings that connect it to the control thread's ownership sync (src/cluster/flow-sync.ts).
#pragma once
#include <cstddef>
#include <cstdint>
#include "pipeline/cluster/foreign_flows.h"
#include "pipeline/cluster/spsc_ring.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

// An ownership record is the connection's client-side flow key: 40 bytes (client address,
// VIP, client port, VIP port, protocol, the index of the worker that made the connection,
// 2 zero bytes; addresses 16 B, IPv4 mapped; ports network order). The sync carries it
// unchanged (docs/cluster.md). The worker byte travels in the key's first pad byte,
// which the receiver clears before it hashes the key.
static_assert(sizeof(FlowKey) == 40, "an ownership record is a FlowKey");
constexpr uint32_t kOwnershipRecordBytes = 40;
constexpr uint32_t kRecordWorkerByte = 37;
static_assert(offsetof(FlowKey, pad) == kRecordWorkerByte, "the worker byte is the key's first pad byte");

struct ForeignRecord {
  FlowKey key;
  uint8_t owner;
  uint8_t owner_worker;
};

// 16384 records per ring: at a 20 ms sync interval that is ~800k new connections/s per worker.
constexpr uint32_t kOwnershipExportRing = 16384;
constexpr uint32_t kForeignInboxRing = 16384;

struct ClusterWorker {
  SpscRing<FlowKey> exports;       // this worker's new connections → the control thread
  SpscRing<ForeignRecord> inbox;   // other nodes' flows, control thread → this worker
  ForeignFlowTable foreign;
  uint32_t foreign_capacity = 0;   // what foreign was built for (rebuilt when the config changes it)
  uint64_t foreign_idle_us = 0;
};

}  // namespace pc
