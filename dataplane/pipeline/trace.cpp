#include "pipeline/trace.h"

#include <cstring>
#include <rte_byteorder.h>
#include "pipeline/conn/conn.h"

namespace pc {

void trace_set(TraceRing* ring, const TraceFilter& filter) {
  ring->filter = filter;
  if (ring->filter.max_records == 0 || ring->filter.max_records > kTraceRingRecords)
    ring->filter.max_records = kTraceRingRecords;
  ring->written = 0;
  ring->read = 0;
  ring->lost_before_read = 0;
}

TraceRecord* trace_next(TraceRing* ring) {
  const uint32_t capacity = ring->filter.max_records;
  if (ring->written - ring->read >= capacity) {  // overwrite the oldest unread
    ring->read++;
    ring->lost_before_read++;
  }
  TraceRecord* r = &ring->records[ring->written % capacity];
  ring->written++;
  std::memset(r, 0, sizeof(*r));
  return r;
}

uint32_t trace_drain(TraceRing* ring, TraceRecord* out, uint32_t max, uint64_t* lost) {
  const uint32_t capacity = ring->filter.max_records;
  *lost += ring->lost_before_read;
  ring->lost_before_read = 0;
  uint32_t n = 0;
  while (n < max && ring->read < ring->written) out[n++] = ring->records[ring->read++ % capacity];
  return n;
}

void trace_fill_from_conn(TraceRecord* r, const Conn& c, bool reply) {
  if (!reply && (c.flags & kConnOneWay)) {  // DR/TUN: the (inner) IP header is not rewritten
    r->out_src = c.client_addr;
    r->out_sport = rte_be_to_cpu_16(c.client_port);
    r->out_dst = c.virtual_addr;
    r->out_dport = rte_be_to_cpu_16(c.virtual_port);
  } else if (!reply) {
    r->out_src = c.local_addr;
    r->out_sport = rte_be_to_cpu_16(c.local_port);
    r->out_dst = c.server_addr;
    r->out_dport = rte_be_to_cpu_16(c.server_port);
  } else {
    r->out_src = c.virtual_addr;
    r->out_sport = rte_be_to_cpu_16(c.virtual_port);
    r->out_dst = c.client_addr;
    r->out_dport = rte_be_to_cpu_16(c.client_port);
  }
  r->service_id = c.service_id;
  r->server_id = c.server_id;
  r->conn_state = c.state;
}

}  // namespace pc
