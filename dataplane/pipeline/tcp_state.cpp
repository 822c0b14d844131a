#include "pipeline/tcp_state.h"

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
static_assert(NO == 0 && SA == 10, "table columns follow the ConnState order");

}  // namespace

ConnState tcp_next_state(ConnState current, Direction direction, uint8_t tcp_flags) {
  if (current > kStateSynAck) return current;
  int flag_class;  // kernel tcp_state_idx(): RST beats SYN beats FIN beats ACK
  if (tcp_flags & RTE_TCP_RST_FLAG) flag_class = 3;
  else if (tcp_flags & RTE_TCP_SYN_FLAG) flag_class = 0;
  else if (tcp_flags & RTE_TCP_FIN_FLAG) flag_class = 1;
  else if (tcp_flags & RTE_TCP_ACK_FLAG) flag_class = 2;
  else return current;  // no flag we track: state unchanged
  return kTransitions[static_cast<int>(direction)][flag_class][current];
}

const char* conn_state_name(uint8_t state) {
  static const char* const kNames[kConnStateCount] = {
      "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP"};
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
  return out;
}

}  // namespace pc
