// IPVS connection states and the kernel's tcp_states[] transition table
// (PROTOCOL.md §4.2, the non-secure_tcp table). INPUT = client→server,
// OUTPUT = server→client; FullNAT sees both directions.
#pragma once
#include <cstdint>
#include "common/config.h"

namespace pc {

enum ConnState : uint8_t {
  kStateNone,
  kStateEstablished,
  kStateSynSent,
  kStateSynRecv,
  kStateFinWait,
  kStateTimeWait,
  kStateClose,
  kStateCloseWait,
  kStateLastAck,
  kStateListen,
  kStateSynAck,
  kStateUdp,  // the single UDP state
  // One-packet scheduling (ipvsadm -o): a datagram's connection, reply entry only, waiting
  // for the server's first reply (conn_stage.cpp)...
  kStateUdpOnePacket,
  // ...which it has had: nothing is held any more (no index entry, lport or gauge), the
  // record only waits for its wheel slot to go back to the free list.
  kStateUdpAnswered,
  kConnStateCount
};

enum class Direction : uint8_t { INPUT = 0, OUTPUT = 1 };

// Next TCP state for a packet with tcp_flags (raw header byte) in the given direction.
ConnState tcp_next_state(ConnState current, Direction direction, uint8_t tcp_flags);

// IPVS's INPUT-ONLY table, for connections whose replies bypass us (DR, TUN:
// IP_VS_CONN_F_NOOUTPUT): a client FIN on ESTABLISHED means FIN_WAIT, not CLOSE_WAIT.
ConnState tcp_next_state_input_only(ConnState current, uint8_t tcp_flags);

// Before FIN or RST: the handshake (either side's view, SYNPROXY's included) or ESTABLISHED.
// A reset then is a refusal or a broken connection, not the end of a closing one.
inline bool tcp_state_opening_or_established(uint8_t state) {
  return state == kStateNone || state == kStateSynSent || state == kStateSynRecv || state == kStateSynAck ||
         state == kStateEstablished;
}

// Name as ipvsadm prints it ("ESTABLISHED", "SYN_RECV", ..., "UDP").
const char* conn_state_name(uint8_t state);

// Per-state timeouts in seconds for one service (indexed by ConnState).
struct StateTimeouts {
  uint32_t seconds[kConnStateCount];
};
StateTimeouts state_timeouts_from(const Timeouts& t);

}  // namespace pc
