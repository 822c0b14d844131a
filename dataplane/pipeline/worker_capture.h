// The worker side of the packet capture (pipeline/capture.h): control entry points for the
// core, the IN copy the observed connection stage takes, and the tx tap that takes the OUT
// copy of every marked frame.
#pragma once
#include <cstdint>
#include "common/tx_queues.h"
#include "pipeline/capture.h"

namespace pc {

struct Worker;

// Replaces the worker's filter and empties its ring. The ring (about 4 MiB) is allocated
// when a capture starts and freed when one stops (enabled=false), so an idle data plane
// holds none. False when it cannot be allocated (nothing changed). Worker thread (live
// mode: from the mailbox) or the caller's thread in test mode.
bool worker_capture_set(Worker* w, const CaptureFilter& filter);
// Drains the worker's unread copies (see capture_drain). 0 when no capture runs.
uint32_t worker_capture_read(Worker* w, CaptureSlot* out, uint32_t max, uint64_t* lost);
void worker_capture_free(Worker* w);

// Whether a packet of service_id arriving on in_port is captured (a capture runs: checked).
bool worker_capture_wants(const Worker* w, uint32_t service_id, uint16_t in_port);
// The IN copy of m, which is then marked so that its OUT copy is taken as it leaves. Both
// copies carry the worker's clock as of its current burst (Worker::now_us).
void worker_capture_in(Worker* w, uint16_t in_port, rte_mbuf* m, TxQueues& tx);

}  // namespace pc
