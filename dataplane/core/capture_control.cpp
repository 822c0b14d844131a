// Dataplane::capture_set / capture_read: the packet capture's control (pipeline/capture.h),
// through the worker mailbox as the trace's (core/trace_control.cpp).
#include <ctime>
#include <rte_mbuf_dyn.h>
#include "core/dataplane.h"
#include "pipeline/worker_capture.h"

namespace pc {

namespace {

struct CaptureSetJob {
  CaptureFilter filter;
  bool ok = false;
};

struct CaptureReadJob {
  CaptureSlot* out = nullptr;
  uint32_t max = 0;
  uint32_t copied = 0;
  uint64_t lost = 0;
};

void run_capture_set(Worker* worker, void* arg) {
  auto* job = static_cast<CaptureSetJob*>(arg);
  job->ok = worker_capture_set(worker, job->filter);
}

void run_capture_read(Worker* worker, void* arg) {
  auto* job = static_cast<CaptureReadJob*>(arg);
  job->copied = worker_capture_read(worker, job->out, job->max, &job->lost);
}

// The mbuf flag that asks the tx tap for a frame's OUT copy (registered once by name;
// the same bit on every later call).
bool capture_mark(uint64_t* mark) {
  static const rte_mbuf_dynflag kMark = {"portcullis_capture_out", 0};
  int bit = rte_mbuf_dynflag_register(&kMark);
  if (bit < 0) return false;
  *mark = 1ull << bit;
  return true;
}

uint64_t realtime_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

Status Dataplane::capture_set(const CaptureFilter& requested) {
  if (!started_) return Status::Error("ESTATE", "captureSet: the data plane is not started");
  CaptureFilter filter = requested;
  if (filter.match.enabled && !capture_mark(&filter.mark))
    return Status::Error("NOMEM", "captureSet: no mbuf dynamic flag left for the capture mark");
  for (auto& w : workers_) {
    CaptureSetJob job{filter};
    Status st = run_on_worker(*w, run_capture_set, &job, "captureSet");
    if (!st.ok()) return st;
    if (!job.ok) {
      // No worker keeps a half-started capture.
      if (filter.match.enabled) capture_set(CaptureFilter{});
      return Status::Error("NOMEM", "captureSet: out of memory for the capture ring");
    }
  }
  return Status::Ok();
}

Status Dataplane::capture_read(std::vector<CaptureSlot>* out, uint64_t* lost, uint64_t* clock_offset_us) {
  out->clear();
  *lost = 0;
  *clock_offset_us = 0;
  if (!started_) return Status::Error("ESTATE", "captureRead: the data plane is not started");
  // Live workers stamp TSC microseconds (core/clock.h); test mode keeps its injected clock.
  if (live_) *clock_offset_us = realtime_us() - clock_now_us();
  out->resize(static_cast<size_t>(kCaptureRingSlots) * workers_.size());
  uint32_t n = 0;
  for (auto& w : workers_) {
    CaptureReadJob job{out->data() + n, kCaptureRingSlots};
    Status st = run_on_worker(*w, run_capture_read, &job, "captureRead");
    if (!st.ok()) return out->clear(), st;
    n += job.copied;
    *lost += job.lost;
  }
  out->resize(n);  // worker after worker (the addon orders them by time without moving 2 KiB slots)
  return Status::Ok();
}

}  // namespace pc
