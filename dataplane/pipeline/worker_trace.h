// The worker side of the packet trace (pipeline/trace.h): control entry points
// for the core, and the observed variant of the connection stage the burst loop calls
// only while a trace or a packet capture (pipeline/capture.h) is on.
#pragma once
#include <cstdint>
#include "pipeline/conn_stage.h"
#include "pipeline/trace.h"

namespace pc {

// Replaces the worker's filter and empties its ring; the ring is allocated on first
// use. False when it cannot be allocated (nothing changed). Worker thread (live mode:
// from the mailbox) or the caller's thread in test mode.
bool worker_trace_set(Worker* w, const TraceFilter& filter);
// Drains the worker's unread records (see trace_drain). 0 when tracing was never set.
uint32_t worker_trace_read(Worker* w, TraceRecord* out, uint32_t max, uint64_t* lost);
void worker_trace_free(Worker* w);

// conn_stage_input() plus, when the trace's filter matches the packet, one TraceRecord of
// its fate, and when the capture's does, its IN copy (and the mark for its OUT copy).
void conn_stage_input_observed(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf* m, ParsedPacket& p,
                               uint8_t owned_kinds, const FlowKey& key, const ConnHit& hit, uint64_t now_us, TxQueues& tx);

}  // namespace pc
