// Dataplane::trace_set / trace_read: the packet trace's control (pipeline/trace.h).
// A worker's ring is touched only on its own thread, so in live mode both go through
// the worker mailbox (core/conn_listing.h); test mode calls the worker directly.
#include <algorithm>
#include "core/dataplane.h"
#include "pipeline/worker_trace.h"

namespace pc {

namespace {

struct TraceSetJob {
  TraceFilter filter;
  bool ok = false;
};

struct TraceReadJob {
  TraceRecord* out = nullptr;
  uint32_t max = 0;
  uint32_t copied = 0;
  uint64_t lost = 0;
};

void run_trace_set(Worker* worker, void* arg) {
  auto* job = static_cast<TraceSetJob*>(arg);
  job->ok = worker_trace_set(worker, job->filter);
}

void run_trace_read(Worker* worker, void* arg) {
  auto* job = static_cast<TraceReadJob*>(arg);
  job->copied = worker_trace_read(worker, job->out, job->max, &job->lost);
}

}  // namespace

Status Dataplane::trace_set(const TraceFilter& filter) {
  if (!started_) return Status::Error("ESTATE", "traceSet: the data plane is not started");
  for (auto& w : workers_) {
    TraceSetJob job{filter};
    Status st = run_on_worker(*w, run_trace_set, &job, "traceSet");
    if (!st.ok()) return st;
    if (!job.ok) return Status::Error("NOMEM", "traceSet: out of memory for the trace ring");
  }
  return Status::Ok();
}

Status Dataplane::trace_read(std::vector<TraceRecord>* out, uint64_t* lost) {
  out->clear();
  *lost = 0;
  if (!started_) return Status::Error("ESTATE", "traceRead: the data plane is not started");
  out->resize(static_cast<size_t>(kTraceRingRecords) * workers_.size());
  uint32_t n = 0;
  for (auto& w : workers_) {
    TraceReadJob job{out->data() + n, kTraceRingRecords};
    Status st = run_on_worker(*w, run_trace_read, &job, "traceRead");
    if (!st.ok()) return out->clear(), st;
    n += job.copied;
    *lost += job.lost;
  }
  out->resize(n);
  std::stable_sort(out->begin(), out->end(),
                   [](const TraceRecord& a, const TraceRecord& b) { return a.time_us < b.time_us; });
  return Status::Ok();
}

}  // namespace pc
