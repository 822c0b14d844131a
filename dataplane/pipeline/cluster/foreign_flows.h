// The foreign-flow table: flows another cluster node owns (learned from its ownership
// sync), client-side flow key → owner node index and the owner's worker that holds the connection. One per worker, touched only by it.
// Bounded: at its capacity the oldest learned entry is evicted (FIFO over a slot array,
// so eviction is O(chain) with no list to maintain); an entry neither learned again nor
// used for idle_us is a miss (and stays until its slot is reused).
#pragma once
#include <cstdint>
#include <memory>
#include "pipeline/l2l3/packet.h"

namespace pc {

struct ForeignFlow {
  FlowKey key;             // the client-side tuple (client → VIP), as l3_flow_key builds it
  uint64_t last_used_us;   // learned or used
  uint32_t next;           // hash chain (slot index, kForeignNone = end)
  uint8_t owner;           // node index
  uint8_t owner_worker;    // the worker on that node that made the connection (its record says)
  bool in_use;
};

constexpr uint32_t kForeignNone = UINT32_MAX;

struct ForeignFlowTable {
  std::unique_ptr<ForeignFlow[]> slots;
  std::unique_ptr<uint32_t[]> buckets;  // chain heads; bucket_mask + 1 of them
  uint32_t capacity = 0;
  uint32_t bucket_mask = 0;
  uint32_t next_slot = 0;   // where the next new entry goes: the oldest once full
  uint32_t count = 0;
  uint64_t idle_us = 0;
};

// (Re)builds t empty with room for capacity entries (off the packet path: snapshot adoption).
// False when out of memory: t is then empty with capacity 0 (every learn is refused).
bool foreign_flows_init(ForeignFlowTable* t, uint32_t capacity, uint64_t idle_us);

enum class ForeignLearn : uint8_t { ADDED, REFRESHED, ADDED_EVICTING, REFUSED };
// Records owner (and its worker) for key (replacing an older owner of the same key).
ForeignLearn foreign_flows_learn(ForeignFlowTable* t, const FlowKey& key, uint8_t owner, uint8_t owner_worker,
                                 uint64_t now_us);

// The owner of key, or -1 (absent or idle too long); on a hit *owner_worker is set. A hit counts as use.
int foreign_flows_owner(ForeignFlowTable* t, const FlowKey& key, uint64_t now_us, uint8_t* owner_worker);

}  // namespace pc
