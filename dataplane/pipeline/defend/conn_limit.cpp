#include "pipeline/defend/conn_limit.h"

#include "pipeline/defend/defense_tables.h"
#include "pipeline/snapshot.h"
#include "pipeline/worker_state.h"

namespace pc {

bool defend_admit_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, uint64_t now_us,
                             DropReason* reason) {
  const ServiceDefense* sd = defense_for_service(s.defense, svc.id);
  if (!sd) return true;
  ServiceDefenseCounters& counters = w->counters->defense.services[svc.id];
  uint16_t workers = w->params.count;
  if (sd->max_conns) {
    const TrafficCounters& t = w->counters->services[svc.id];
    int64_t open = t.active_conns + t.inactive_conns;
    int64_t share = (static_cast<int64_t>(sd->max_conns) + workers - 1) / workers;
    if (open >= share) {
      *reason = DropReason::CONN_LIMIT_REACHED;
      counters.dropped[defense_drop_index(*reason)]++;
      return false;
    }
  }
  if (sd->new_conn_rate.enabled() &&
      !bucket_take(&w->defend.conn_rate[svc.id], worker_share(sd->new_conn_rate, workers), now_us)) {
    *reason = DropReason::CONN_RATE_LIMITED;
    counters.dropped[defense_drop_index(*reason)]++;
    return false;
  }
  return true;
}

}  // namespace pc
