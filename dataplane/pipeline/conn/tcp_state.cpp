#include "pipeline/conn/tcp_state.h"

#include <rte_tcp.h>

namespace pc {

namespace {

constexpr ConnState NO = kStateNone, ES = kStateEstablished, SS = kStateSynSent, SR = kStateSynRecv,
                    FW = kStateFinWait, TW = kStateTimeWait, CL = kStateClose, CW = kStateCloseWait,
                    LA = kStateLastAck, LI = kStateListen, SA = kStateSynAck;

// [direction][flag class: syn, fin, ack, rst][current state: NO ES SS SR FW TW CL CW LA LI SA]
constexpr ConnState kTransitions[2][4][11] = {
    {   // INPUT
        {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},  // syn
        {CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW},  // fin
        {CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},  // ack
        {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR},  // rst
    },
    {   // OUTPUT
        {SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR},  // syn
        {TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW},  // fin
        {ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES},  // ack
        {CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL},  // rst
    },
};
// PROTOCOL.md §4.2 "IN-ONLY" rows, same layout as one direction above.
constexpr ConnState kInputOnly[4][11] = {
    {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},  // syn
    {CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW},  // fin
    {CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},  // ack
    {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},  // rst
};
static_assert(NO == 0 && SA == 10, "table columns follow the ConnState order");

}  // namespace

// kernel tcp_state_idx(): RST beats SYN beats FIN beats ACK; -1 = no flag we track.
static int flag_class_of(uint8_t tcp_flags) {
  if (tcp_flags & RTE_TCP_RST_FLAG) return 3;
  if (tcp_flags & RTE_TCP_SYN_FLAG) return 0;
  if (tcp_flags & RTE_TCP_FIN_FLAG) return 1;
  if (tcp_flags & RTE_TCP_ACK_FLAG) return 2;
  return -1;
}

ConnState tcp_next_state(ConnState current, Direction direction, uint8_t tcp_flags) {
  if (current > kStateSynAck) return current;
  int flag_class = flag_class_of(tcp_flags);
  if (flag_class < 0) return current;  // state unchanged
  return kTransitions[static_cast<int>(direction)][flag_class][current];
}

ConnState tcp_next_state_input_only(ConnState current, uint8_t tcp_flags) {
  if (current > kStateSynAck) return current;
  int flag_class = flag_class_of(tcp_flags);
  if (flag_class < 0) return current;
  return kInputOnly[flag_class][current];
}

const char* conn_state_name(uint8_t state) {
  static const char* const kNames[kConnStateCount] = {
      "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP", "UDP", "UDP"};
  return state < kConnStateCount ? kNames[state] : "BUG!";
}

StateTimeouts state_timeouts_from(const Timeouts& t) {
  StateTimeouts out;
  out.seconds[kStateNone] = 2;  // IPVS defaults for states the config does not expose
  out.seconds[kStateEstablished] = t.tcp_established;
  out.seconds[kStateSynSent] = t.tcp_syn_sent;
  out.seconds[kStateSynRecv] = t.tcp_syn_recv;
  out.seconds[kStateFinWait] = t.tcp_fin_wait;
  out.seconds[kStateTimeWait] = t.tcp_time_wait;
  out.seconds[kStateClose] = t.tcp_close;
  out.seconds[kStateCloseWait] = t.tcp_close_wait;
  out.seconds[kStateLastAck] = t.tcp_last_ack;
  out.seconds[kStateListen] = 120;
  out.seconds[kStateSynAck] = 120;
  out.seconds[kStateUdp] = t.udp;
  out.seconds[kStateUdpOnePacket] = t.udp_one_packet;
  out.seconds[kStateUdpAnswered] = 0;
  return out;
}

}  // namespace pc
