// Per-worker connection table: a pool of fixed records, an rte_hash with two
// entries per connection (client-side tuple and reply tuple), and a timer wheel.
//
// Timers are lazy: a packet only moves the record's expires_us; a record sits in
// exactly one wheel slot and is re-filed when that slot fires before it is due.
// Connections leave the table only through the wheel, so each slot is a singly
// linked list threaded through the records (no per-packet list surgery).
#pragma once
#include <cstdint>
#include <string>
#include <rte_hash.h>
#include "pipeline/packet.h"
#include "pipeline/tcp_state.h"

namespace pc {

constexpr uint32_t kNoConn = UINT32_MAX;
constexpr uint64_t kWheelTickUs = 100 * 1000;  // 100 ms resolution is plenty for second-scale timeouts
constexpr uint32_t kWheelSlots = 16384;        // horizon 1638 s; longer timeouts are re-filed when reached

// Everything an established flow needs, so forwarding never reads the snapshot. 48 bytes.
struct Conn {
  uint32_t client_addr, virtual_addr, local_addr, server_addr;  // network order
  uint16_t client_port, virtual_port, local_port, server_port;  // network order
  uint64_t expires_us;
  uint32_t wheel_next;   // next record in the same wheel slot
  uint16_t service_id;
  uint16_t server_id;
  uint16_t lport_pool;   // the worker's lport pool of local_addr (to give the lport back)
  uint8_t protocol;
  uint8_t state;         // ConnState
  uint8_t in_use;
  // Counter epochs of service_id / server_id when the record was made: if the id was
  // re-used by a different object since (generation change zeroed its counters), this
  // connection's traffic and gauges no longer belong to that id's counters.
  uint8_t service_epoch;
  uint8_t server_epoch;
  uint8_t flags;         // ConnFlag bits
};

// Per-connection feature state, so established flows need no snapshot lookup.
enum ConnFlag : uint8_t {
  kConnToa = 1,          // the service carries the client address in TOA (pipeline/toa.h)
  kConnToaAckDone = 2,   // the handshake-completing ACK was handled (TOA added or skipped)
  kConnToaDataDone = 4,  // the first data segment was handled
  kConnNat = 8,          // NAT (-m): reply tuple RIP:rport -> CIP:cport, no lport (forward_modes.h)
  kConnDr = 16,          // DR (-g): one-way, client tuple only
  kConnTun = 32,         // TUN (-i): one-way, client tuple only
  kConnPersistent = 128, // made through a persistence template (pipeline/persist.h)
};
constexpr uint8_t kConnOneWay = kConnDr | kConnTun;           // the server answers the client directly
constexpr uint8_t kConnNotFullnat = kConnNat | kConnDr | kConnTun;  // no LIP/lport was taken
static_assert(sizeof(Conn) == 48, "keep the record small: it is touched by every packet");

inline FlowKey conn_client_key(const Conn& c) {
  return make_flow_key(c.protocol, c.client_addr, c.client_port, c.virtual_addr, c.virtual_port);
}
inline FlowKey conn_reply_key(const Conn& c) {
  return make_flow_key(c.protocol, c.server_addr, c.server_port, c.local_addr, c.local_port);
}

struct ConnTable {
  Conn* records = nullptr;
  uint32_t capacity = 0;
  uint32_t* free_stack = nullptr;
  uint32_t free_count = 0;
  rte_hash* hash = nullptr;
  uint32_t* wheel = nullptr;     // kWheelSlots list heads
  uint64_t wheel_cursor = 0;     // next tick to process (absolute tick number)
  bool wheel_started = false;
};

bool conn_table_init(ConnTable* t, uint32_t capacity, int socket_id, std::string* error);
void conn_table_destroy(ConnTable* t);

inline uint32_t conn_count(const ConnTable& t) { return t.capacity - t.free_count; }

// Hit: *index and *direction (INPUT when key is the client-side tuple).
inline bool conn_lookup(const ConnTable& t, const FlowKey& key, uint32_t* index, Direction* direction) {
  void* data;
  if (rte_hash_lookup_data(t.hash, &key, &data) < 0) return false;
  uintptr_t value = reinterpret_cast<uintptr_t>(data);
  *index = static_cast<uint32_t>(value >> 1);
  *direction = static_cast<Direction>(value & 1);
  return true;
}

// A zeroed record (in_use set) or kNoConn when the pool is empty.
uint32_t conn_alloc(ConnTable* t);
// Adds both hash entries for a filled record and files it in the wheel. False (and
// nothing added) when the hash is full or a tuple is already taken; the caller then
// releases the record with conn_release().
bool conn_insert(ConnTable* t, uint32_t index, uint64_t now_us);
// Returns a record that never made it into the table.
void conn_release(ConnTable* t, uint32_t index);

// Fires due wheel slots; on_expire(ctx, conn) runs for each expired record before
// its hash entries and record are freed. Returns at once when no tick is due.
using ConnExpireFn = void (*)(void* ctx, const Conn& conn);
void conn_run_timers(ConnTable* t, uint64_t now_us, ConnExpireFn on_expire, void* ctx);

}  // namespace pc
