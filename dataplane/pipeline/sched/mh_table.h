// Maglev lookup table (Eisenbud et al., NSDI'16 §3.4) with IPVS's parameters
// (ip_vs_mh.c, PROTOCOL.md §5). Built off the packet path when a snapshot is built
// and shared read-only by every worker (ServiceEntry::maglev).
#pragma once
#include <cstdint>
#include "pipeline/snapshot.h"

namespace pc {

constexpr uint16_t kMaglevNoServer = 0xffff;
constexpr uint32_t kMaglevDefaultSize = 4093;  // IPVS default (CONFIG_IP_VS_MH_TAB_INDEX 12)

// Table size for n servers: IPVS's 4093, or the smallest prime of IPVS's list
// (8191 ... 131071), or beyond, that is >= 100 * n, so each server's share is
// within ~1% of its weight share.
uint32_t maglev_table_size(size_t server_count);

// hsiphash(offset + port + addr) with IPVS's fixed key hash1 (second = true: hash2).
uint32_t maglev_hash(uint32_t addr_host, uint16_t port_host, uint32_t offset, bool second);

// Fills service.maglev from service.servers (uses last_weight, so quiesced servers
// keep their slots). Leaves it empty when no server has a weight. False when there
// are more servers than a table can index.
bool maglev_build(ServiceEntry* service);

}  // namespace pc
