#include "pipeline/conn/session_log.h"

#include <cstring>
#include <rte_malloc.h>

namespace pc {

namespace {

SessionEvent event_of(const Conn& c, SessionEventKind kind, uint64_t now_us) {
  SessionEvent e;
  e.client_addr = c.client_addr;
  e.virtual_addr = c.virtual_addr;
  e.local_addr = c.local_addr;
  e.server_addr = c.server_addr;
  e.client_port = c.client_port;
  e.virtual_port = c.virtual_port;
  e.local_port = c.local_port;
  e.server_port = c.server_port;
  e.start_us = 0;
  e.time_us = now_us;
  e.packets[0] = e.packets[1] = 0;
  e.bytes[0] = e.bytes[1] = 0;
  e.service_id = c.service_id;
  e.server_id = c.server_id;
  e.protocol = c.protocol;
  e.kind = kind;
  e.state = c.state;
  e.conn_flags = c.flags;
  return e;
}

}  // namespace

bool session_log_prepare(SessionLogWorker* log, uint32_t conn_capacity, int socket_id, std::string* error) {
  if (!log->storage) {
    log->storage = static_cast<ConnTally*>(
        rte_zmalloc_socket("pc_session_tallies", sizeof(ConnTally) * size_t{conn_capacity}, 64, socket_id));
    log->storage_records = log->storage ? conn_capacity : 0;
  }
  if (log->storage && (log->events.ready() || log->events.init(kSessionRingRecords))) return true;
  *error = "session_log: out of memory for a worker's connection tallies (" +
           std::to_string(sizeof(ConnTally) * size_t{conn_capacity}) + " bytes) or its event ring";
  return false;
}

void session_log_destroy(SessionLogWorker* log) {
  rte_free(log->storage);
  log->storage = nullptr;
  log->tallies = nullptr;
  log->storage_records = 0;
}

void session_log_adopt(SessionLogWorker* log, bool on, uint32_t conn_capacity) {
  ConnTally* wanted = on && log->storage && log->storage_records >= conn_capacity ? log->storage : nullptr;
  if (wanted == log->tallies) return;
  // Switched on: tallies left from an earlier period belong to connections long gone. Zero =
  // "start unknown" for every connection alive now; new ones set theirs when they are made.
  if (wanted) std::memset(wanted, 0, sizeof(ConnTally) * size_t{conn_capacity});
  log->tallies = wanted;
}

bool session_log_created(SessionLogWorker& log, const Conn& c, uint32_t index, uint64_t now_us) {
  ConnTally& t = log.tallies[index];
  t = ConnTally{};
  t.start_us = now_us;
  SessionEvent e = event_of(c, kSessionCreated, now_us);
  e.start_us = now_us;
  return log.events.push(e);
}

bool session_log_ended(SessionLogWorker& log, const Conn& c, uint32_t index, uint64_t now_us, SessionEventKind kind) {
  const ConnTally& t = log.tallies[index];
  SessionEvent e = event_of(c, kind, now_us);
  e.start_us = t.start_us;
  e.packets[0] = t.packets[0];
  e.packets[1] = t.packets[1];
  e.bytes[0] = t.bytes[0];
  e.bytes[1] = t.bytes[1];
  return log.events.push(e);
}

uint32_t session_log_drain(SessionLogWorker* log, uint8_t* out, uint32_t max) {
  SessionEvent batch[64];
  uint32_t total = 0;
  while (total < max) {
    uint32_t want = max - total < 64 ? max - total : 64;
    uint32_t n = log->events.pop(batch, want);
    std::memcpy(out + size_t{total} * kSessionEventBytes, batch, size_t{n} * kSessionEventBytes);
    total += n;
    if (n < want) break;
  }
  return total;
}

}  // namespace pc
