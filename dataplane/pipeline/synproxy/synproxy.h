// SYNPROXY (DESIGN.md §4, PROTOCOL.md §2): the gateway answers a client SYN with a
// cookie SYN-ACK and keeps no state; a final ACK carrying a valid cookie creates the
// connection and opens the backend handshake with the client's ISN and options.
// From then on server→client sequence numbers are shifted by delta = cookie ISN −
// server ISN (and client→server acks and SACK edges back), timestamps by tsoff, and
// the server's window is rescaled to the window scale the client was told.
//
// Design choices (vs PROTOCOL.md §2):
// - SYN-ACK: MSS kSynproxyMss, kSynproxyMss6 to an IPv6 client (capped by the client's
//   and by the MTU toward it), window kSynproxyInitialWindow
//   (netfilter sends 0 and a window update later; DPVS the client's own window). A
//   small non-zero window lets the request arrive at once and bounds it by the hold
//   queue; the server's first segment then carries the real window.
// - Window scale kSynproxyWscale and SACK are offered only when the client sent
//   timestamps (they travel in the TSval low bits, the kernel's scheme).
// - Backend SYN = client ISN and client options (MSS from the cookie), so
//   client→server sequence numbers need no change; its TSval is the client's.
// - Until the server answers, client segments are held (kSynproxyHoldMax); the
//   server's SYN-ACK is turned in place into the ACK that completes its handshake.
// - The backend SYN is sent again when the client retransmits (kSynproxySynResendUs).
// - The server answering RST or nothing within kSynproxyServerWaitUs makes the
//   gateway reset the client; held segments are dropped (synproxy_server_failed).
// - IPv6: the same handshake, with segments of each side's own family (a fixed IPv6
//   header, hop limit kSynproxyTtl, traffic class and flow label 0, no extension header
//   of the client's echoed), cookies over the 16-byte addresses and the IPv6 MSS table
//   (synproxy_cookie.h). The sequence, SACK, timestamp and window translation and the
//   held-data handback only touch TCP and are the same for both families.
#pragma once
#include <cstdint>
#include <string>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"
#include "pipeline/conn/tcp_state.h"

namespace pc {

struct Worker;
struct Conn;

constexpr uint16_t kSynproxyMss = 1500 - 40;
constexpr uint16_t kSynproxyMss6 = 1500 - 60;  // what an IPv6 client is offered (the same MTU)
constexpr uint16_t kSynproxyInitialWindow = 3 * kSynproxyMss;
constexpr uint8_t kSynproxyWscale = 7;
constexpr uint32_t kSynproxyHoldMax = 3;
constexpr uint64_t kSynproxyServerWaitUs = 3ull * 1000 * 1000;
// A client segment arriving this long after the backend SYN (the client retransmitting:
// the SYN or its answer may be lost) sends the backend SYN again, as netfilter does.
constexpr uint64_t kSynproxySynResendUs = 1000ull * 1000;
constexpr uint8_t kSynproxyTtl = 64;

// Sequence-translation state per connection, parallel to ConnTable::records (20 bytes).
// Used by SYNPROXY connections and by PROXY-protocol connections (which shift the
// client's sequence space by the header length); all zero for plain FullNAT ones.
struct SynproxyConn {
  uint32_t seq_delta;    // established: cookie ISN − server ISN; before: the cookie ISN
  uint32_t ts_offset;    // established: server TSval − our TSval; before: our SYN-ACK TSval
  uint32_t client_isn;   // PROXY header: the header goes in front of the byte at client_isn + 1 (stream start)
  uint16_t hold;         // hold slot while the backend handshake is pending
  uint8_t flags;         // k* flags in synproxy.cpp; 0 = plain connection
  uint8_t server_wscale; // shift the server announced (0 = none)
  uint8_t client_wscale; // shift the client was told by our SYN-ACK (0 = none)
  uint8_t proxy_len;     // PROXY header length (client→server bytes added)
  uint8_t proxy_mode;    // ClientAddress
  uint8_t reserved;
};
static_assert(sizeof(SynproxyConn) == 20, "one per connection");

// Held client segments and what the backend handshake needs, one per pending handshake.
struct SynproxyHold {
  rte_mbuf* packets[kSynproxyHoldMax];
  uint32_t count;
  uint32_t client_isn;
  uint32_t client_tsval;
  uint16_t client_window;
  uint8_t mss_index;     // what the backend SYN carried, to send it again
  int8_t client_wscale;  // -1 = none
  bool sack;
  bool timestamps;
  uint64_t syn_sent_us;
};

struct SynproxyTable {
  SynproxyConn* conns = nullptr;  // capacity = connection capacity
  SynproxyHold* holds = nullptr;
  uint16_t* free_holds = nullptr;
  uint32_t hold_capacity = 0;
  uint32_t free_count = 0;
  bool external_conns = false;  // conns belong to a mapped region (pipeline/conn_store.h)
};

// conns: the per-connection array when it must outlive the process (zero-filled or an
// earlier process's), else null (allocated here).
bool synproxy_init(SynproxyTable* t, uint32_t conn_capacity, int socket_id, SynproxyConn* conns, std::string* error);
// A backend handshake is in progress: its held segments live only in this process.
bool synproxy_handshake_pending(const SynproxyConn& sc);
// Frees held packets (counted synproxy_server_failed) and the tables.
void synproxy_destroy(SynproxyTable* t, WorkerCounters* counters);

// True when connection index is a SYNPROXY connection.
inline bool synproxy_owns(const SynproxyTable& t, uint32_t index) { return t.conns[index].flags != 0; }

// A TCP packet without a connection to a service with synproxy on: SYN → cookie
// SYN-ACK; ACK with a valid cookie → new connection + backend SYN; else counted drop.
void synproxy_new_flow(Worker* w, const Snapshot& s, const ServiceEntry& svc, rte_mbuf* m, ParsedPacket& p,
                       uint64_t now_us, TxQueues& tx);

// Client segments held during the backend handshake, handed back when it completes.
struct SynproxyReleased {
  rte_mbuf* packets[kSynproxyHoldMax];
  uint32_t count = 0;
};

// A packet of SYNPROXY connection index. Returns true when it was consumed (held,
// turned into another packet, or dropped); false when the connection's forwarding
// method should send it (sequence numbers, SACK, timestamps and window already
// translated). *released = the held client segments when this packet (the server's
// SYN-ACK) completed the backend handshake: the caller runs them through the
// connection stage, after this packet.
bool synproxy_conn_packet(Worker* w, const Snapshot& s, uint32_t index, Direction direction, rte_mbuf* m,
                          ParsedPacket& p, uint64_t now_us, TxQueues& tx, SynproxyReleased* released);

// PROXY protocol for a new (non-SYNPROXY) connection of a service with client_address
// proxy_v1/v2; p is the client's SYN. The stream starts after it until the server's
// SYN-ACK says where (proxy_output); the segment at the start gets the header in front.
void synproxy_track_proxy_header(Worker* w, uint32_t index, ClientAddress mode, const ParsedPacket& p);

// Connection index expires: a pending backend handshake resets the client.
void synproxy_on_expire(Worker* w, uint32_t index);

}  // namespace pc
