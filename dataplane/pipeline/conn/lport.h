// Local port allocation. A worker hands out only lports of its residue class
// (lport % worker_count == worker_index, kLportMin..65535) so a reply's
// destination port names the worker that owns the connection (DESIGN.md §3).
// One pool per LIP per worker; an lport is unique per LIP within the worker
// (shared by TCP and UDP: simpler, and still 64k/worker_count flows per LIP).
#pragma once
#include <cstdint>
#include <map>
#include <vector>
#include "common/ip_address.h"

namespace pc {

struct LportPool {
  IpAddr local_addr{};
  uint32_t port_count = 0;  // lports of this worker's class
  uint32_t used = 0;
  uint32_t cursor = 0;      // next-fit: spreads reuse so a closed port rests before it is reused
  std::vector<uint64_t> in_use;  // bit k = lport first_port + k * worker_count
};

struct LportAllocator {
  uint16_t worker_index = 0;
  uint16_t worker_count = 1;
  uint16_t first_port = 0;  // smallest lport >= kLportMin of this class
  // Pools are never removed: records keep their pool index for as long as they live.
  std::vector<LportPool> pools;
  std::map<IpAddr, uint16_t> pool_by_addr;
};

void lport_allocator_init(LportAllocator* a, uint16_t worker_index, uint16_t worker_count);
// Pool index for a LIP, creating it on first sight. Not for the packet path.
uint16_t lport_pool_for(LportAllocator* a, const IpAddr& local_addr);
// Takes a free lport (network order) from pool; false when the class is exhausted.
bool lport_take(LportAllocator* a, uint16_t pool, uint16_t* port);
void lport_give_back(LportAllocator* a, uint16_t pool, uint16_t port);
// Adoption: takes exactly port (network order); false when it is not of this worker's
// class or already taken.
bool lport_take_exact(LportAllocator* a, uint16_t pool, uint16_t port);
// lport (network order) is taken in pool.
bool lport_taken(const LportAllocator& a, uint16_t pool, uint16_t port);

}  // namespace pc
