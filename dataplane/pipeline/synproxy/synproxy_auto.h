// SYNPROXY `auto` (DESIGN.md §4): a service answers SYNs itself only while it is under a
// SYN flood. Each worker counts the service's SYNs in one-second windows against its
// share of the threshold (like the other per-service rates: threshold / workers), so
// nothing is shared or locked. Engages as soon as a window reaches the share; disengages
// once no window has reached it for the hold time (hysteresis: a rate hovering at the
// threshold does not flap faster than the hold time).
//
// Connections are never moved between modes: one made while engaged keeps its SYNPROXY
// translation after disengaging (its record carries it), one made before keeps plain
// FullNAT. Cookie ACKs are still checked for the cookie lifetime after disengaging, so a
// handshake whose SYN-ACK went out just before does not fail.
#pragma once
#include <cstdint>
#include <vector>
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;
struct Snapshot;
struct ServiceEntry;

constexpr uint64_t kSynproxyAutoWindowUs = 1000ull * 1000;
// How often the timer looks for services to disengage when no SYN arrives.
constexpr uint64_t kSynproxyAutoTickUs = 100ull * 1000;

struct SynproxyAutoState {
  uint64_t generation = 0;        // of the service this state belongs to
  uint32_t syn_share = 1;         // this worker's share of the threshold, per window
  uint64_t hold_us = 0;
  uint64_t window_start_us = 0;
  uint32_t window_syns = 0;
  bool engaged = false;
  uint64_t last_high_us = 0;      // last SYN seen with the window at or above the share
  uint64_t disengaged_at_us = 0;  // cookies answered before this may still come back
  bool ever_engaged = false;
};

struct SynproxyAutoWorker {
  std::vector<SynproxyAutoState> services;  // by service id
  std::vector<uint32_t> auto_service_ids;   // services of the adopted snapshot in auto mode
  uint64_t next_tick_us = 0;
};

void synproxy_auto_init(SynproxyAutoWorker* a);
// On snapshot adoption: state of services that changed generation or left auto mode is reset.
void synproxy_auto_adopt(Worker* w, const Snapshot& s);

// A TCP packet without a connection to an auto-mode service: true when SYNPROXY takes it
// (a SYN while engaged, or a possible cookie ACK while engaged or within the cookie
// lifetime after). Counts SYNs and engages.
bool synproxy_auto_takes(Worker* w, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us);

// Timer: disengages services whose rate stayed below the share for their hold time.
void synproxy_auto_run_timers(Worker* w, uint64_t now_us);

}  // namespace pc
