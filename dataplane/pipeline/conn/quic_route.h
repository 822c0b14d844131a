// QUIC services (ServiceEntry::quic): the server of a new flow is the one its destination
// connection id names, when it names one (l2l3/quic_header.h reads it), so a client that
// migrates to a new address or port (RFC 9000 §9) keeps its server although the connection
// table knows nothing of its new tuple. Otherwise persistence and the scheduler choose, as for
// any UDP flow. Called for UDP packets without a connection only: a datagram whose tuple has a
// connection follows it (established flows read no QUIC header). docs/schedulers.md, "QUIC".
#pragma once
#include "pipeline/conn/server_choice.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;

// A server of svc whose quic_id the datagram's DCID carries (any weight: a quiesced server keeps
// its QUIC connections as it keeps its table entries), counted quic_routed_by_id, no persistence
// template; else choose_server() (quic_id_unknown / quic_malformed counted first when the header
// named no server of svc or could not be read; the datagram is forwarded either way).
ServerChoice quic_choose_server(Worker* w, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us);

}  // namespace pc
