#include "pipeline/conn_store.h"

namespace pc {

uint64_t conn_store_compat_hash(uint32_t capacity, uint16_t workers) {
  // Every constant a reader of the slices relies on; a build that changes one cannot adopt
  // (kConnStateCount: a state added, like one-packet UDP's, changes what a record may hold).
  // kConnRecordLayout marks changes sizeof cannot see (fields re-cut inside the same bytes).
  const uint64_t fields[] = {kConnRecordLayout, sizeof(Conn), sizeof(SynproxyConn), sizeof(PersistTemplate), sizeof(ConnBucket),
                             sizeof(ConnStoreStamp), kConnBucketSlots, kWheelSlots, kWheelTickUs, kPersistCapacity,
                             kMaxServiceId, kMaxServerId, kLportMin, kConnStateCount, capacity, workers};
  uint64_t x = 0xcbf29ce484222325ull;
  for (uint64_t f : fields)
    for (int b = 0; b < 8; b++) x = (x ^ ((f >> (8 * b)) & 0xff)) * 0x100000001b3ull;
  return x;
}

}  // namespace pc
