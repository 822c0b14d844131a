// Which worker owns a client's connections when the lport cannot say (docs/architecture.md,
// "several workers"): a stateless rule that both directions compute from the packet alone.
//
//   - NAT services: the server replies RIP:rport -> CIP:cport, to an address we do not own,
//     with nothing of ours in it. The owner is a hash of the client endpoint: CIP:cport from a
//     client's packet, the destination of the reply. Both sides hash the same two values.
//   - persistent services (-p): templates are per worker, so every new connection of one
//     client network must be made on one worker; the owner is a hash of the client network
//     (the address masked by the service's -M), which each of its connections shares.
//   - a persistent service with NAT servers uses the NAT rule, with the client address masked
//     by the snapshot's NAT mask: the AND of the netmasks (IPv6: the shortest prefix) of every
//     persistent service with NAT servers, and no port. Two clients of one client network of
//     any such service then agree under that coarser mask, so they share a worker too.
//
// The rule is applied where it costs nothing on established traffic: a client packet that
// misses the connection table on a worker the rule does not name is handed to the worker it
// names (conn_stage.cpp new_flow); a NAT reply is handed over before the pipeline
// (packet_owner_worker, as FullNAT replies by lport). A connection that exists stays where it is.
#pragma once
#include <cstdint>
#include "common/ip_address.h"
#include "pipeline/conn/persist.h"
#include "pipeline/snapshot.h"

namespace pc {

// A 32-bit mix of the (masked) client address and port, reduced to a worker index.
inline uint16_t client_owner_hash(const IpAddr& client, uint16_t cport_network, uint16_t worker_count) {
  uint32_t h = (ip_fold32(client) ^ (static_cast<uint32_t>(cport_network) << 16 | cport_network)) * 0x9E3779B1u;
  h ^= h >> 15;
  h *= 0x85EBCA77u;
  h ^= h >> 13;
  return static_cast<uint16_t>(h % worker_count);
}

// The owner of a NAT connection of client:cport (network order), either direction.
inline uint16_t nat_client_owner(const Snapshot& s, const IpAddr& client, uint16_t cport_network,
                                 uint16_t worker_count) {
  const IpAddr net = persist_client_net(client, s.nat_steer.netmask_v4, s.nat_steer.prefix_v6);
  return client_owner_hash(net, s.nat_steer.with_port ? cport_network : 0, worker_count);
}

// The worker that must make a new connection of svc for client:cport; -1 when any may
// (a service that is neither NAT nor persistent, or one worker).
inline int service_client_owner(const Snapshot& s, const ServiceEntry& svc, const IpAddr& client,
                                uint16_t cport_network, uint16_t worker_count) {
  if (worker_count <= 1) return -1;
  if (svc.has_nat_servers) return nat_client_owner(s, client, cport_network, worker_count);
  if (svc.persistence_timeout == 0) return -1;
  const IpAddr net = persist_client_net(client, svc.persistence_netmask, svc.persistence_prefix_v6);
  return client_owner_hash(net, 0, worker_count);
}

}  // namespace pc
