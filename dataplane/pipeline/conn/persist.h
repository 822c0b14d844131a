// Persistence templates (ipvsadm -p timeout -M netmask; PROTOCOL.md §4.3): a client
// network (client address AND netmask) of a persistent service sticks to the server
// it was first given. As in IPVS a template
//   - is consulted before the scheduler; a valid one decides the server (even a
//     quiesced or OVERLOAD one: persistence wins, like expire_quiescent_template=0);
//   - is invalid once its server left the service (or its id names another object);
//   - re-arms to now + timeout whenever a new connection is made through it;
//   - never expires while connections made through it live ("controlled", IPVS
//     n_control); its timer re-arms by whole timeouts meanwhile, so after the last
//     of them ends it lives out the period it is in.
//
// Per worker, like the connection table. With several workers persistence still holds:
// every new connection of a client network is made on the worker that network names
// (conn/client_owner.h), so that worker's template decides them all. No table is shared
// between workers.
//
// A fixed open-addressed table, no allocation after creation: a key lives within
// kPersistProbe slots of its hash; dead templates (expired, nothing controlled) are
// reused in place. No free slot in the window -> the connection is scheduled without
// a template (event persist_table_full).
//
// ipvsadm's PersistConn (templates per real server) is a gauge kept beside the table
// (WorkerCounters::persist_templates): a template is counted when it is made and
// uncounted when its slot is given to another template or when persist_sweep() finds
// it dead. The sweep visits the whole table about once per kPersistSweepPeriodUs, a
// slice per timer run, and does nothing while no template is counted; so the gauge
// falls at most about a second after a template really expired.
#pragma once
#include <cstdint>
#include "common/ip_address.h"

namespace pc {

constexpr uint32_t kPersistCapacity = 1u << 16;  // templates per worker (40 B each)
constexpr uint32_t kPersistProbe = 16;
constexpr uint32_t kNoTemplate = UINT32_MAX;
constexpr uint64_t kPersistSweepPeriodUs = 1000 * 1000;

struct PersistTemplate {
  IpAddr client_net;     // the client address, masked (persist_client_net)
  uint16_t service_id;   // 0 = slot never used
  uint16_t server_id;
  uint8_t service_epoch;  // Worker::service_epoch / server_epoch when made
  uint8_t server_epoch;
  uint8_t counted;        // 1 while it is counted in its server's persist_templates gauge
  uint8_t reserved;
  uint32_t controlled;    // live connections made through this template
  uint64_t expires_us;
};
static_assert(sizeof(PersistTemplate) == 40, "keep templates small");

struct PersistTable {
  PersistTemplate* slots = nullptr;
  uint32_t counted = 0;       // templates with .counted set
  uint32_t sweep_cursor = 0;  // next slot persist_sweep() visits
  uint64_t swept_us = 0;      // when it last visited any
  bool external = false;      // slots belong to a mapped region (pipeline/conn_store.h)
};

// slots: kPersistCapacity templates that outlive the process, or null (allocated here).
bool persist_init(PersistTable* table, int socket_id, PersistTemplate* slots);
void persist_destroy(PersistTable* table);

struct PersistKey {
  uint16_t service_id;
  uint8_t service_epoch;
  IpAddr client_net;  // already masked
};

// ipvsadm -M: the client network of addr. IPv4 takes the netmask (network order, any
// mask as IPVS applies it), IPv6 the prefix length.
inline IpAddr persist_client_net(const IpAddr& addr, uint32_t netmask_v4, uint8_t prefix_v6) {
  return ip_is_v4(addr) ? ip_from_v4(ip_v4(addr) & netmask_v4) : ip_masked(addr, prefix_v6);
}

// The live template of key, or kNoTemplate.
uint32_t persist_find(PersistTable* table, const PersistKey& key, uint64_t now_us);
// A slot for a new template of key (the key's dead template, or a never-used/dead
// slot in its window), or kNoTemplate when the window is full of live templates.
uint32_t persist_claim(PersistTable* table, const PersistKey& key, uint64_t now_us);
// A connection was made through the template: count it and re-arm the timer.
void persist_attach(PersistTable* table, uint32_t slot, uint64_t now_us, uint64_t timeout_us);
// Live: controlled by a connection, or inside its timeout.
inline bool persist_live(const PersistTemplate& t, uint64_t now_us) { return t.controlled > 0 || now_us < t.expires_us; }

// Visits the slots due since the last call (kPersistCapacity per kPersistSweepPeriodUs)
// and calls on_dead for each counted template that is no longer live; on_dead must
// uncount it (clear .counted and decrement table->counted). Worker timers only.
using PersistDeadFn = void (*)(void* ctx, PersistTemplate& t);
void persist_sweep(PersistTable* table, uint64_t now_us, PersistDeadFn on_dead, void* ctx);

// A connection made through key's template to server_id ended.
void persist_detach(PersistTable* table, const PersistKey& key, uint16_t server_id, uint8_t server_epoch,
                    uint64_t now_us, uint64_t timeout_us);

}  // namespace pc
