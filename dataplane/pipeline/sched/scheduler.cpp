#include "pipeline/sched/scheduler.h"

namespace pc {

Scheduler* scheduler_create(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::RR: return make_rr_scheduler();
    case SchedulerKind::WRR: return make_wrr_scheduler();
    case SchedulerKind::LC: return make_lc_scheduler();
    case SchedulerKind::WLC: return make_wlc_scheduler();
    case SchedulerKind::SED: return make_sed_scheduler();
    case SchedulerKind::NQ: return make_nq_scheduler();
    case SchedulerKind::DH: return make_dh_scheduler();
    case SchedulerKind::SH: return make_sh_scheduler();
    case SchedulerKind::LBLC: return make_lblc_scheduler();
    case SchedulerKind::LBLCR: return make_lblcr_scheduler();
    case SchedulerKind::MH: return make_mh_scheduler();
    case SchedulerKind::FO: return make_fo_scheduler();
    case SchedulerKind::OVF: return make_ovf_scheduler();
    case SchedulerKind::TWOS: return make_twos_scheduler();
  }
  return nullptr;
}

bool server_is_overloaded(const SchedInput& in, int index) {
  return server_overloaded(in.loads, in.service.servers[index]);
}

bool server_usable(const SchedInput& in, int index) {
  return in.service.servers[index].weight > 0 && !server_is_overloaded(in, index);
}

int64_t conn_overhead(const SchedInput& in, int index) {
  ServerConns c = server_conns(in.loads, in.service.servers[index]);
  return (c.active << 8) + c.inactive;
}

int64_t active_conns(const SchedInput& in, int index) {
  return server_conns(in.loads, in.service.servers[index]).active;
}

int weighted_least(const SchedInput& in, int64_t (*overhead)(const SchedInput&, int)) {
  const auto& servers = in.service.servers;
  int n = static_cast<int>(servers.size());
  int least = -1;
  int64_t least_overhead = 0;
  for (int i = 0; i < n; i++) {
    if (least < 0) {
      // The first usable server starts the comparison.
      if (!server_usable(in, i)) continue;
      least = i;
      least_overhead = overhead(in, i);
      continue;
    }
    if (server_is_overloaded(in, i)) continue;
    int64_t h = overhead(in, i);
    // A later weight-0 server never wins: the right side is 0 * ... vs h * weight.
    if (least_overhead * static_cast<int64_t>(servers[i].weight) > h * static_cast<int64_t>(servers[least].weight)) {
      least = i;
      least_overhead = h;
    }
  }
  return least;
}

bool locality_overloaded(const SchedInput& in, int index) {
  const auto& servers = in.service.servers;
  if (active_conns(in, index) <= static_cast<int64_t>(servers[index].weight)) return false;
  for (int i = 0; i < static_cast<int>(servers.size()); i++)
    if (active_conns(in, i) * 2 < static_cast<int64_t>(servers[i].weight)) return true;
  return false;
}

int heaviest_usable(const SchedInput& in, bool (*eligible)(const SchedInput&, int)) {
  const auto& servers = in.service.servers;
  int best = -1;
  for (int i = 0; i < static_cast<int>(servers.size()); i++) {
    if (!server_usable(in, i) || (eligible && !eligible(in, i))) continue;
    if (best < 0 || servers[i].weight > servers[best].weight) best = i;
  }
  return best;
}

int server_index_by_id(const ServiceEntry& service, uint32_t id) {
  for (size_t i = 0; i < service.servers.size(); i++)
    if (service.servers[i].id == id) return static_cast<int>(i);
  return -1;
}

}  // namespace pc
