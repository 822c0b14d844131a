#include "pipeline/conn/quic_route.h"

#include <algorithm>
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/quic_header.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// Index into svc.servers of the server with this quic_id; -1 if none.
int server_by_quic_id(const ServiceEntry& svc, uint16_t quic_id) {
  auto at = std::lower_bound(svc.quic_ids.begin(), svc.quic_ids.end(), quic_id,
                             [](const QuicServerId& entry, uint16_t id) { return entry.quic_id < id; });
  return at != svc.quic_ids.end() && at->quic_id == quic_id ? at->index : -1;
}

}  // namespace

ServerChoice quic_choose_server(Worker* w, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us) {
  const uint8_t* payload = reinterpret_cast<const uint8_t*>(p.udp) + sizeof(rte_udp_hdr);
  // parse_l4 checked the UDP length against the IP payload; bytes past it are not the datagram's.
  uint32_t length = rte_be_to_cpu_16(p.udp->dgram_len) - sizeof(rte_udp_hdr);
  uint16_t quic_id = 0;
  switch (quic_read_server_id(payload, length, &quic_id)) {
    case QuicIdRead::SERVER_ID: {
      int index = quic_id != 0 ? server_by_quic_id(svc, quic_id) : -1;
      if (index >= 0) {
        w->counters->event(Event::QUIC_ROUTED_BY_ID);
        return {index, kNoTemplate};
      }
      w->counters->event(Event::QUIC_ID_UNKNOWN);
      break;
    }
    case QuicIdRead::MALFORMED: w->counters->event(Event::QUIC_MALFORMED); break;
    case QuicIdRead::NO_ID: break;
  }
  return choose_server(w, svc, l3_src(p), l4_src_port(p), now_us);
}

}  // namespace pc
