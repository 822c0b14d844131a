// NAT session logging (docs/operations.md, "Session logs"): each worker puts one small
// record in its own bounded ring when it makes a connection and one when the connection
// ends; the control thread drains the rings every few hundred ms and exports them (IPFIX,
// JSON lines: src/session-log/). A full ring drops the record and counts it
// (session_events_lost): the packet path never waits for the exporter.
//
// Packets and bytes per connection live beside the records, in a per-worker array of
// tallies indexed like them (the 96-byte Conn has no spare byte, and it lives in the
// shared region, which must keep its layout). The array exists only once logging was
// switched on, and it is process memory: connections adopted from an earlier process start
// their tallies at zero, their start unknown (kSessionStartUnknown).
//
// Off (the default): every hook is one predictable branch on a null pointer.
#pragma once
#include <cstdint>
#include <string>
#include "common/ip_address.h"
#include "pipeline/cluster/spsc_ring.h"
#include "pipeline/conn/conn.h"

namespace pc {

// One connection's traffic since it was made (or since logging was on). 32 bytes: two per
// cache line, so counting a packet touches one line beside the record.
struct alignas(32) ConnTally {
  uint64_t start_us;       // worker clock when the connection was made; 0 = unknown
  uint64_t bytes[2];       // [0] client -> server, [1] server -> client: L3 bytes as received
  uint32_t packets[2];     // the same directions; wraps at 2^32 (the JSON/IPFIX carry 64 bits)
};
static_assert(sizeof(ConnTally) == 32, "two tallies per cache line");

// SessionEvent::kind: a creation, or an end and how it came.
enum SessionEventKind : uint8_t {
  kSessionCreated = 1,
  kSessionExpired = 2,   // its timer ran out in its state (idle, or after a FIN/RST close: see state)
  kSessionAnswered = 3,  // one-packet UDP: the server's first reply ended it
};

// What the control thread reads: 128 bytes, the connection's tuples as the record holds
// them (addresses 16 B, IPv4 mapped; ports network order). Layout shared with
// src/session-log/records.ts (SESSION_RECORD_BYTES); change both together.
struct SessionEvent {
  IpAddr client_addr, virtual_addr, local_addr, server_addr;      // 0, 16, 32, 48
  uint16_t client_port, virtual_port, local_port, server_port;    // 64..71
  uint64_t start_us;       // 72: worker clock (Dataplane::clock_now_us); 0 = unknown (predates logging)
  uint64_t time_us;        // 80: the event's time (creation: = start_us)
  uint64_t packets[2];     // 88: client -> server, server -> client (end records; creation: 0)
  uint64_t bytes[2];       // 104: L3 bytes as received, the same directions
  uint16_t service_id;     // 120
  uint16_t server_id;      // 122
  uint8_t protocol;        // 124
  uint8_t kind;            // 125: SessionEventKind
  uint8_t state;           // 126: ConnState (tcp_state.h) at the event
  uint8_t conn_flags;      // 127: ConnFlag bits (forwarding method, NAT64)
};
static_assert(sizeof(SessionEvent) == 128, "two cache lines per record");
constexpr uint32_t kSessionEventBytes = 128;

// 32768 records per worker (4 MiB): at a 100 ms drain that is 160k connections/s per worker.
constexpr uint32_t kSessionRingRecords = 32768;

struct SessionLogWorker {
  // Null while logging is off; the array below once it is on. The packet path tests this.
  ConnTally* tallies = nullptr;
  // Allocated on the control thread before the first snapshot with logging on is published,
  // kept until the worker is destroyed (a later off/on does not reallocate).
  ConnTally* storage = nullptr;
  uint32_t storage_records = 0;
  SpscRing<SessionEvent> events;
};

// One packet of connection index forwarded (inbound: client -> server). Logging on only.
inline void session_log_count(SessionLogWorker& log, uint32_t index, bool inbound, uint16_t bytes) {
  ConnTally& t = log.tallies[index];
  t.packets[inbound ? 0 : 1]++;
  t.bytes[inbound ? 0 : 1] += bytes;
}

// Control thread, before publishing a snapshot with logging on: the tallies and the ring.
// False with *error when out of memory (the apply then fails, nothing published).
bool session_log_prepare(SessionLogWorker* log, uint32_t conn_capacity, int socket_id, std::string* error);
void session_log_destroy(SessionLogWorker* log);
// Worker thread, adopting a snapshot: on is the snapshot's setting. Switching on starts every
// tally afresh (connections alive then log an unknown start).
void session_log_adopt(SessionLogWorker* log, bool on, uint32_t conn_capacity);
// Logging on only. The record of c (index: its record index), just committed / ending now;
// false when the ring was full and the record is lost (the caller counts it).
bool session_log_created(SessionLogWorker& log, const Conn& c, uint32_t index, uint64_t now_us);
bool session_log_ended(SessionLogWorker& log, const Conn& c, uint32_t index, uint64_t now_us, SessionEventKind kind);
// Control thread: moves up to max records into out (kSessionEventBytes each); returns how many.
uint32_t session_log_drain(SessionLogWorker* log, uint8_t* out, uint32_t max);

}  // namespace pc
