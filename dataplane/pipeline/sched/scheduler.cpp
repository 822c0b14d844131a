#include "pipeline/sched/scheduler.h"

namespace pc {

Scheduler* scheduler_create(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::RR: return make_rr_scheduler();
    case SchedulerKind::WRR: return make_wrr_scheduler();
  }
  return nullptr;
}

}  // namespace pc
