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
// Per worker, like the connection table: with several workers a client network's
// connections that land on different workers may be given different servers (each
// worker keeps its own template). One worker (the lab, test mode) is exact. Sharing
// templates would need a concurrent table on the packet path.
//
// A fixed open-addressed table, no allocation after creation: a key lives within
// kPersistProbe slots of its hash; dead templates (expired, nothing controlled) are
// reused in place. No free slot in the window -> the connection is scheduled without
// a template (event persist_table_full).
#pragma once
#include <cstdint>

namespace pc {

constexpr uint32_t kPersistCapacity = 1u << 16;  // templates per worker (24 B each)
constexpr uint32_t kPersistProbe = 16;
constexpr uint32_t kNoTemplate = UINT32_MAX;

struct PersistTemplate {
  uint32_t client_net;   // network order
  uint16_t service_id;   // 0 = slot never used
  uint16_t server_id;
  uint8_t service_epoch;  // Worker::service_epoch / server_epoch when made
  uint8_t server_epoch;
  uint16_t reserved;
  uint32_t controlled;    // live connections made through this template
  uint64_t expires_us;
};
static_assert(sizeof(PersistTemplate) == 24, "keep templates small");

struct PersistTable {
  PersistTemplate* slots = nullptr;
};

bool persist_init(PersistTable* table, int socket_id);
void persist_destroy(PersistTable* table);

struct PersistKey {
  uint16_t service_id;
  uint8_t service_epoch;
  uint32_t client_net;  // network order, already masked
};

// The live template of key, or kNoTemplate.
uint32_t persist_find(PersistTable* table, const PersistKey& key, uint64_t now_us);
// A slot for a new template of key (the key's dead template, or a never-used/dead
// slot in its window), or kNoTemplate when the window is full of live templates.
uint32_t persist_claim(PersistTable* table, const PersistKey& key, uint64_t now_us);
// A connection was made through the template: count it and re-arm the timer.
void persist_attach(PersistTable* table, uint32_t slot, uint64_t now_us, uint64_t timeout_us);
// A connection made through key's template to server_id ended.
void persist_detach(PersistTable* table, const PersistKey& key, uint16_t server_id, uint8_t server_epoch,
                    uint64_t now_us, uint64_t timeout_us);

}  // namespace pc
