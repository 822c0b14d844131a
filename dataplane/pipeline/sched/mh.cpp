// Maglev hashing as ip_vs_mh.c over the shared table in the snapshot (mh_table.h):
// slot = hash1(client addr [+ source port with mh-port]) % M. Minimal disruption:
// removing one of N servers moves only ~1/N of the clients. mh-fallback: when the
// slot's server is unusable, rehash with offsets (offset + first slot) % M until a
// usable one; without it, an unusable server means no server.
#include <new>
#include <rte_byteorder.h>
#include "pipeline/sched/mh_table.h"
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class MaglevHashing final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}  // the table lives in the snapshot

  int pick(const SchedInput& in) override {
    const auto& table = in.service.maglev;
    uint32_t size = static_cast<uint32_t>(table.size());
    if (size == 0) return -1;
    uint32_t addr = rte_be_to_cpu_32(ip_fold32(in.client_addr));
    uint16_t port = (in.service.sched_flags & kSchedPort) ? rte_be_to_cpu_16(in.client_port) : 0;
    uint32_t first = maglev_hash(addr, port, 0, false) % size;
    int chosen = usable_at(in, first);
    if (chosen >= 0 || !(in.service.sched_flags & kSchedFallback)) return chosen;
    for (uint32_t offset = 0; offset < size; offset++) {
      chosen = usable_at(in, maglev_hash(addr, port, (offset + first) % size, false) % size);
      if (chosen >= 0) return chosen;
    }
    return -1;
  }

 private:
  static int usable_at(const SchedInput& in, uint32_t slot) {
    uint16_t index = in.service.maglev[slot];
    if (index == kMaglevNoServer || index >= in.service.servers.size()) return -1;
    return server_usable(in, index) ? index : -1;
  }
};

}  // namespace

Scheduler* make_mh_scheduler() { return new (std::nothrow) MaglevHashing(); }

}  // namespace pc
