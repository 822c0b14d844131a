#include "pipeline/worker_trace.h"

#include <cstring>
#include <rte_byteorder.h>
#include <rte_malloc.h>
#include "pipeline/worker_capture.h"
#include "pipeline/worker_state.h"

namespace pc {

bool worker_trace_set(Worker* w, const TraceFilter& filter) {
  if (!w->trace) {
    void* memory = rte_zmalloc_socket("pc_trace_ring", sizeof(TraceRing), RTE_CACHE_LINE_SIZE, w->params.socket_id);
    if (!memory) return false;
    w->trace = new (memory) TraceRing();
  }
  trace_set(w->trace, filter);
  worker_update_observing(w);
  return true;
}

uint32_t worker_trace_read(Worker* w, TraceRecord* out, uint32_t max, uint64_t* lost) {
  return w->trace ? trace_drain(w->trace, out, max, lost) : 0;
}

void worker_trace_free(Worker* w) {
  rte_free(w->trace);
  w->trace = nullptr;
  worker_update_observing(w);
}

// The service a packet belongs to before it is handled: its connection's, or the
// service its destination names (0 for replies with no connection and the unknown).
static uint32_t service_of(const Worker* w, const Snapshot& s, const FlowKey& key, const ConnHit& hit) {
  if (hit.found) return w->conns.records[hit.index].service_id;
  const ServiceEntry* svc = snapshot_find_service(s, key.protocol, key.dst_addr, key.dst_port);
  return svc ? svc->id : 0;
}

void conn_stage_input_observed(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf* m, ParsedPacket& p,
                               uint8_t owned_kinds, const FlowKey& key, const ConnHit& hit, uint64_t now_us,
                               TxQueues& tx) {
  const uint32_t service_id = service_of(w, s, key, hit);
  // Before the stage: the frame as received (dropped ones too), then marked for its OUT copy.
  if (w->capture && worker_capture_wants(w, service_id, in_port)) worker_capture_in(w, in_port, m, tx);
  if (!w->trace || !w->trace->filter.enabled || !trace_wants(*w->trace, service_id, in_port)) {
    conn_stage_input(w, s, m, p, owned_kinds, key, hit, now_us, tx);
    return;
  }
  // The stage counts exactly one drop reason for a packet it drops: the delta names it.
  uint64_t drops_before[kDropReasonCount];
  std::memcpy(drops_before, w->counters->drops, sizeof(drops_before));
  const uint64_t& handed = w->counters->events[static_cast<unsigned>(Event::CLIENT_FLOWS_HANDED_OVER)];
  const uint64_t handed_before = handed;
  conn_stage_input(w, s, m, p, owned_kinds, key, hit, now_us, tx);  // m may be gone after this

  TraceRecord* r = trace_next(w->trace);
  r->time_us = now_us;
  r->in_src = key.src_addr;
  r->in_dst = key.dst_addr;
  r->out_src = r->out_dst = ip_is_v4(key.src_addr) ? ip_from_v4(0) : IpAddr{};  // until a connection fills them
  r->in_sport = rte_be_to_cpu_16(key.src_port);
  r->in_dport = rte_be_to_cpu_16(key.dst_port);
  r->protocol = key.protocol;
  r->port = static_cast<uint8_t>(in_port);
  r->worker = static_cast<uint8_t>(w->params.index);
  r->service_id = static_cast<uint16_t>(service_id);
  r->verdict = static_cast<uint8_t>(handed != handed_before ? TraceVerdict::HANDED_OVER : TraceVerdict::FORWARDED);
  for (unsigned i = 0; i < kDropReasonCount; i++) {
    if (w->counters->drops[i] == drops_before[i]) continue;
    r->verdict = static_cast<uint8_t>(TraceVerdict::DROPPED);
    r->drop_reason = static_cast<uint8_t>(i);
    break;
  }
  uint32_t index = hit.index;
  Direction direction = hit.direction;
  bool has_conn = hit.found || conn_lookup(w->conns, key, &index, &direction);
  if (has_conn && w->conns.records[index].in_use && r->verdict == static_cast<uint8_t>(TraceVerdict::FORWARDED))
    trace_fill_from_conn(r, w->conns.records[index], direction == Direction::OUTPUT);
  else if (has_conn && w->conns.records[index].in_use)
    r->server_id = w->conns.records[index].server_id;
}

}  // namespace pc
