// Per-worker connection table: a pool of fixed records, a hash index with two
// entries per connection (client-side tuple and reply tuple), and a timer wheel.
//
// The index stores no keys: a slot is a 32-bit tag and the record index (+ direction);
// a tag match is confirmed against the tuple in the record itself, which a hit reads
// anyway. One bucket = 7 slots in one cache line; a full bucket spills to the next
// (linear probing by bucket), and each bucket counts the entries that spilled past it
// so a miss stops at the first bucket with a zero count. Per connection that is ~2×9 B
// of index at ≤ 75% load, where rte_hash spent ~128 B (a 32-B key slot per entry, its
// buckets, extendable buckets and free-slot rings).
//
// Timers are lazy: a packet only moves the record's expires_us; a record sits in
// exactly one wheel slot and is re-filed when that slot fires before it is due.
// Connections leave the table only through the wheel, so each slot is a singly
// linked list threaded through the records (no per-packet list surgery).
#pragma once
#include <cstdint>
#include <string>
#include <cstring>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>
#include "pipeline/l2l3/packet.h"
#include "pipeline/conn/tcp_state.h"

namespace pc {

constexpr uint32_t kNoConn = UINT32_MAX;
constexpr uint64_t kWheelTickUs = 100 * 1000;  // 100 ms resolution is plenty for second-scale timeouts
constexpr uint32_t kWheelSlots = 16384;        // horizon 1638 s; longer timeouts are re-filed when reached

// Everything an established flow needs, so forwarding never reads the snapshot. 96 bytes:
// the four addresses first (either family, common/ip_address.h), then what every packet
// reads besides them (ports, expiry, state, flags). A record starts on a 32-byte boundary,
// so it always spans exactly two cache lines (conn_lookup_bulk prefetches both).
struct Conn {
  IpAddr client_addr, virtual_addr, local_addr, server_addr;
  uint16_t client_port, virtual_port, local_port, server_port;  // network order
  // One 64-bit word: the expiry (54 bits of microseconds: 570 years of clock) and, for a
  // UDP FullNAT connection, how the client's address reaches its server (UdpCarriage)
  // and how many more datagrams carry UOA. The record has no spare byte (96 bytes, two
  // cache lines); the expiry never needed all 64 bits.
  uint64_t expires_us : 54;
  uint64_t udp_carriage : 2;   // UdpCarriage
  uint64_t uoa_left : 8;       // UDP_CARRIAGE_UOA_*: datagrams still to carry it (counts down)
  uint32_t wheel_next;   // next record in the same wheel slot
  uint16_t service_id;
  uint16_t server_id;
  uint16_t lport_pool;   // the worker's lport pool of local_addr (to give the lport back)
  uint8_t protocol;
  uint8_t state;         // ConnState
  uint8_t in_use;        // 0 free, kConnAllocated while being filled, kConnCommitted once in the table
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
  kConnNat = 8,          // NAT (-m): reply tuple RIP:rport -> CIP:cport, no lport (forward/nat.h)
  kConnDr = 16,          // DR (-g): one-way, client tuple only
  kConnTun = 32,         // TUN (-i): one-way, client tuple only
  kConnNat64 = 64,       // FullNAT across families: IPv6 client and VIP, IPv4 LIP and server (forward/nat64.h)
  kConnPersistent = 128, // made through a persistence template (pipeline/persist.h)
};
// Conn::udp_carriage: set when the connection is made (FullNAT, not NAT64, UDP services
// with client_address uoa_ipo / uoa_opp / proxy_v2); TCP connections keep 0.
enum UdpCarriage : uint8_t {
  kUdpCarriageNone = 0,
  kUdpCarriageUoaIpo = 1,   // UOA as an IPv4 option (carriage/uoa.h), while uoa_left > 0
  kUdpCarriageUoaOpp = 2,   // UOA in DPVS's private protocol 248 header, while uoa_left > 0
  kUdpCarriageProxyV2 = 3,  // PROXY v2 DGRAM header in front of every datagram (carriage/proxy_dgram.h)
};
constexpr uint64_t kConnExpiresMaxUs = (1ull << 54) - 1;
// Bumped whenever Conn's fields change inside the same size (the region's compat hash
// includes it): 2 = expires_us shares its word with udp_carriage and uoa_left.
constexpr uint64_t kConnRecordLayout = 2;

// Conn::in_use. A record becomes committed only after its index entries and wheel slot
// are written (conn_insert), so a process killed at any instant leaves every committed
// record complete (pipeline/conn_store.h).
constexpr uint8_t kConnAllocated = 1;
constexpr uint8_t kConnCommitted = 2;
constexpr uint8_t kConnOneWay = kConnDr | kConnTun;           // the server answers the client directly
constexpr uint8_t kConnNotFullnat = kConnNat | kConnDr | kConnTun;  // no LIP/lport was taken
static_assert(sizeof(Conn) == 96, "keep the record small: it is touched by every packet");

// Which index entries a committed record has. DR/TUN: the client tuple only (replies bypass
// us). One-packet UDP: the reply tuple only, so the client's next datagram is a new flow
// and is scheduled on its own; none once answered (kStateUdpAnswered, conn_stage.cpp).
inline bool conn_has_client_entry(const Conn& c) {
  return c.state != kStateUdpOnePacket && c.state != kStateUdpAnswered;
}
inline bool conn_has_reply_entry(const Conn& c) { return !(c.flags & kConnOneWay) && c.state != kStateUdpAnswered; }

inline FlowKey conn_client_key(const Conn& c) {
  return make_flow_key(c.protocol, c.client_addr, c.client_port, c.virtual_addr, c.virtual_port);
}
inline FlowKey conn_reply_key(const Conn& c) {
  return make_flow_key(c.protocol, c.server_addr, c.server_port, c.local_addr, c.local_port);
}

constexpr uint32_t kConnBucketSlots = 7;
constexpr uint32_t kConnMaxProbe = 64;  // buckets an insert may spill over before the table counts as full

struct alignas(64) ConnBucket {
  uint32_t tags[kConnBucketSlots];
  uint32_t slots[kConnBucketSlots];  // 0 = free, else ((record index << 1) | Direction) + 1
  uint32_t spilled;                  // entries that probed past this (full) bucket and sit further on
  uint32_t unused;
};
static_assert(sizeof(ConnBucket) == 64, "one bucket, one cache line");

struct ConnTable {
  Conn* records = nullptr;
  uint32_t capacity = 0;
  uint32_t* free_stack = nullptr;
  uint32_t free_count = 0;
  ConnBucket* buckets = nullptr;
  uint32_t bucket_mask = 0;      // bucket count - 1 (a power of two)
  uint32_t* wheel = nullptr;     // kWheelSlots list heads
  uint64_t wheel_cursor = 0;     // next tick to process (absolute tick number)
  bool wheel_started = false;
  // Records [0, *high_water) have ever been handed out (the free list hands out low indices
  // first, so adoption scans only those). Points into the shared stamp when the table
  // outlives the process (conn_store.h), else at own_high_water.
  uint32_t* high_water = nullptr;
  uint32_t own_high_water = 0;
  bool external = false;         // the arrays belong to a mapped region, not to rte_malloc
};

// Buckets for capacity connections: two entries each at <= 75% of the slots, a power of two.
inline uint32_t conn_bucket_count(uint32_t capacity) {
  uint64_t wanted = (2ull * capacity * 4 + 3 * kConnBucketSlots - 1) / (3 * kConnBucketSlots);
  uint64_t buckets = 8;
  while (buckets < wanted) buckets <<= 1;
  return static_cast<uint32_t>(buckets);
}

bool conn_table_init(ConnTable* t, uint32_t capacity, int socket_id, std::string* error);
// The table over arrays that outlive the process (conn_store.h). fresh: a new region
// (zero-filled): the free list and wheel are set up; else they are left for adoption.
void conn_table_attach(ConnTable* t, uint32_t capacity, Conn* records, uint32_t* free_stack, ConnBucket* buckets,
                       uint32_t bucket_count, uint32_t* wheel, uint32_t* high_water, bool fresh);
void conn_table_destroy(ConnTable* t);
// Empties the index and wheel and the free list (adoption rebuilds them from the records).
void conn_table_clear_index(ConnTable* t);
// Adoption: pushes every record that is not in use on the free list, highest index first
// (so low indices are handed out first again); records from *high_water on count as free.
void conn_table_rebuild_free_list(ConnTable* t);

inline uint32_t conn_count(const ConnTable& t) { return t.capacity - t.free_count; }

// Two independent 32-bit hashes of a key (CRC32-C, one instruction per 8 bytes):
// one picks the bucket, the other is the tag, so the tag discriminates within a bucket.
struct ConnHash {
  uint32_t bucket;
  uint32_t tag;
};
inline ConnHash conn_hash(const FlowKey& key) {
  uint64_t w[5];
  std::memcpy(w, &key, sizeof w);
  static_assert(sizeof w == sizeof(FlowKey), "every byte of the key is hashed");
  uint32_t bucket = 0x9e3779b9u, tag = 0x85ebca6bu;
  for (uint64_t word : w) {
    bucket = rte_hash_crc_8byte(word, bucket);
    tag = rte_hash_crc_8byte(word, tag);
  }
  return ConnHash{bucket, tag};
}

// Compared field by field against the record (no key built from it: see make_flow_key).
inline bool conn_key_matches(const ConnTable& t, uint32_t slot, const FlowKey& key) {
  const Conn& c = t.records[(slot - 1) >> 1];
  if ((slot - 1) & 1)
    return key.src_addr == c.server_addr && key.dst_addr == c.local_addr && key.src_port == c.server_port &&
           key.dst_port == c.local_port && key.protocol == c.protocol;
  return key.src_addr == c.client_addr && key.dst_addr == c.virtual_addr && key.src_port == c.client_port &&
         key.dst_port == c.virtual_port && key.protocol == c.protocol;
}

// The slot value (see ConnBucket::slots) of key, or 0.
inline uint32_t conn_find(const ConnTable& t, const FlowKey& key, ConnHash h) {
  uint32_t b = h.bucket & t.bucket_mask;
  for (uint32_t probe = 0; probe < kConnMaxProbe; probe++) {
    const ConnBucket& bucket = t.buckets[b];
    for (uint32_t i = 0; i < kConnBucketSlots; i++)
      if (bucket.tags[i] == h.tag && bucket.slots[i] && conn_key_matches(t, bucket.slots[i], key)) return bucket.slots[i];
    if (bucket.spilled == 0) return 0;
    b = (b + 1) & t.bucket_mask;
  }
  return 0;
}

// Hit: *index and *direction (INPUT when key is the client-side tuple).
inline bool conn_lookup(const ConnTable& t, const FlowKey& key, uint32_t* index, Direction* direction) {
  uint32_t slot = conn_find(t, key, conn_hash(key));
  if (!slot) return false;
  *index = (slot - 1) >> 1;
  *direction = static_cast<Direction>((slot - 1) & 1);
  return true;
}

constexpr uint32_t kConnBulkMax = 64;
// Up to kConnBulkMax keys at once: hashes first, every home bucket prefetched, then each
// first tag match's record prefetched before any is compared. Bit k of the return value
// is set when keys[k] was found; slots[k] is then its slot value (see ConnBucket::slots).
// tcp_side (optional): a per-record array of tcp_side_stride-byte entries whose entry of
// each TCP candidate is prefetched with its record (the SYNPROXY/sequence state every TCP
// packet of a connection checks: a third cache miss per packet once the table outgrows the
// caches, which the profile of 1 M random flows showed as 19 % of the cycles).
uint64_t conn_lookup_bulk(const ConnTable& t, const FlowKey* const* keys, uint32_t n, uint32_t* slots,
                          const void* tcp_side = nullptr, uint32_t tcp_side_stride = 0);

// A zeroed record (in_use set) or kNoConn when the pool is empty.
uint32_t conn_alloc(ConnTable* t);
// Adds both hash entries for a filled record and files it in the wheel. False (and
// nothing added) when the hash is full or a tuple is already taken; the caller then
// releases the record with conn_release().
bool conn_insert(ConnTable* t, uint32_t index, uint64_t now_us);
// Returns a record that never made it into the table.
void conn_release(ConnTable* t, uint32_t index);
// Removes the reply-tuple entry of a committed record that has one (one-packet UDP at its
// first reply); the record stays filed in the wheel, which frees it when its slot comes.
void conn_remove_reply_entry(ConnTable* t, uint32_t index);

// Fires due wheel slots; on_expire(ctx, conn) runs for each expired record before
// its hash entries and record are freed. Returns at once when no tick is due.
using ConnExpireFn = void (*)(void* ctx, const Conn& conn);
void conn_run_timers(ConnTable* t, uint64_t now_us, ConnExpireFn on_expire, void* ctx);

}  // namespace pc
