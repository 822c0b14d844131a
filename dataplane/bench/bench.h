// In-process pipeline benchmark on the two ring ports "outside" and "inside" of
// a test-mode start. The measured loop is what a worker does (rx burst, pipeline,
// tx flush, per port); simulated clients and servers ("peers") sit on the far side
// of the rings and make the next input out of each output. Their work is timed
// separately and subtracted, so a figure is the data plane's own cycles/packet,
// ring I/O included. Scenarios:
//   io        rx → tx with no pipeline: the floor (ring I/O alone)
//   fullnat   established flows both ways (peers mirror each frame into the reply)
//   synproxy  client SYNs to a synproxy service, answered with cookie SYN-ACKs
//             (the client peer turns each SYN-ACK into a fresh SYN: no state)
//   newconn   every packet a SYN of a new flow (schedule, LIP + lport, insert);
//             the server peer turns each translated SYN into the next client SYN;
//             the table is emptied between rounds (clock advanced, timers run,
//             not measured)
//   drop      every packet dropped by the defences of the applied config (UDP
//             flood over an empty per-source bucket, ACL deny); the client peer
//             refills the rx ring with fresh copies of the frames
//   cold      (bench_flows.cpp) established FullNAT on `connections` live connections made
//             through the pipeline beforehand (SYN, SYN-ACK, ACK; UDP: a datagram); every
//             packet of the measured loop belongs to a flow picked at random, either direction,
//             and its header lines are flushed from the caches before the data plane sees it
//             (as a NIC's DMA leaves them); every output is checked against its flow
//   connections (bench_flows.cpp) whole TCP connections: SYN, SYN-ACK, ACK, request,
//             response, FIN/ACK each way, then the record's expiry and free, all measured
//             (the clock advances so the wheel frees them inside the loop); with the first
//             service's SYNPROXY on, the cookie handshake and the backend one as well
// Every scenario checks what comes out (count, addresses, ports, checksums spot-checked);
// a wrong output is counted in output_errors, and the caller fails the row.
// Frames are IPv4 or IPv6 by the first service's VIP (clients from the outside port's prefix
// of that family; the simulated hosts answer ARP or neighbour solicitations).
// Cycles from rte_rdtsc. bench_memory measures bytes per connection of a worker
// created for it and filled to capacity.
#pragma once
#include <cstdint>
#include <string>
#include "core/dataplane.h"
#include "core/status.h"

namespace pc {

enum class BenchScenario : uint8_t { IO, FULLNAT, SYNPROXY, NEWCONN, DROP, COLD, CONNECTIONS };

struct BenchOptions {
  BenchScenario scenario = BenchScenario::IO;
  uint64_t packets = 0;  // stop after the pipeline (or io stage) handled this many
  uint32_t flows = 1;    // frames in flight
  // newconn: connections per round before the table is emptied (unmeasured). 0 = 200000.
  uint32_t round_connections = 0;
  // cold: live connections (1..kMaxColdConnections); connections: complete connections to run
  // (packets is then ignored). 0 = 1 M / 200 k.
  uint32_t connections = 0;
};
constexpr uint32_t kMaxColdConnections = 4u << 20;

struct BenchResult {
  uint64_t packets = 0;
  uint64_t cycles = 0;          // the data plane's: measured loop minus harness_cycles
  uint64_t harness_cycles = 0;  // peers and newconn's table emptying, excluded from cycles
  // The loop is also timed in chunks of 2048 packets (harness excluded the
  // same way): the median chunk's cycles/packet (connections: cycles per connection of a
  // batch), with the 10th and 90th percentiles.
  double chunk_median = 0;
  double chunk_p10 = 0;
  double chunk_p90 = 0;
  uint32_t chunks = 0;
  uint64_t wall_ns = 0;         // wall-clock time of the measured loop, peers included
  uint64_t packets_out = 0;     // frames the data plane transmitted in the measured loop (ARP excluded)
  uint64_t output_checked = 0;  // outputs whose addresses/ports were compared with what they must be
  uint64_t output_errors = 0;   // outputs that were wrong (or missing): the row is a failure
  std::string first_error;      // what the first wrong output was
  uint64_t connections = 0;     // connections: completed (client saw the server's FIN); cold: live
  uint64_t conns_expired = 0;   // during the measured loop
  uint64_t tsc_hz = 0;
  uint64_t dropped = 0;         // drop counters during the measured loop (all reasons)
  uint64_t conns_created = 0;   // during the measured loop
  int64_t mbufs_leaked = 0;     // pool in-use after minus before; 0 unless something leaked
};

// Runs a scenario on the test-mode data plane's ring ports "outside" and "inside", with
// worker 0 on the caller's thread and the applied config's first service.
Status bench_run(Dataplane& dataplane, const BenchOptions& options, BenchResult* result);

struct BenchMemoryResult {
  uint32_t connections = 0;   // inserted (== asked, or the table refused one)
  uint64_t dpdk_bytes = 0;    // rte_malloc heap growth: worker_create + fill
  uint64_t libc_bytes = 0;    // C++/libc heap growth over the same span
};

// Creates a worker of its own with conn_capacity = connections (the data plane's ports and
// pool), fills it through worker_fill_connections (IPv6 addresses when ipv6), measures,
// destroys it.
Status bench_memory(Dataplane& dataplane, uint32_t connections, bool ipv6, BenchMemoryResult* result);

// Fills worker `worker`'s table with count synthetic connections numbered from first
// (bench/bench_fill.h); *inserted < count when the table is full. EINVAL for a bad worker.
Status bench_fill_connections(Dataplane& dataplane, uint16_t worker, uint32_t count, uint32_t first,
                              uint32_t* inserted);

}  // namespace pc
