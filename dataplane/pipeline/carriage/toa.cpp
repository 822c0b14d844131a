#include "pipeline/carriage/toa.h"

#include <cstring>
#include <rte_byteorder.h>
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/tcp_options.h"

namespace pc {

namespace {

// Overwrites bytes [from, to) of the TCP header with `fill` and folds the change into the
// checksum (RFC 1624) over the 16-bit words touched, so a segment that arrived corrupted
// stays detectably corrupted. `to` never passes the header, whose length is a multiple of 4.
void fill_tcp_bytes(rte_tcp_hdr* tcp, uint32_t from, uint32_t to, uint8_t fill) {
  uint8_t* base = reinterpret_cast<uint8_t*>(tcp);
  uint32_t first_word = from & ~1u, end_word = (to + 1) & ~1u;
  uint32_t sum = static_cast<uint16_t>(~tcp->cksum);
  for (uint32_t i = first_word; i < end_word; i += 2) sum += static_cast<uint16_t>(~load16(base + i));
  std::memset(base + from, fill, to - from);
  for (uint32_t i = first_word; i < end_word; i += 2) sum += load16(base + i);
  tcp->cksum = static_cast<uint16_t>(~csum_finish(sum));
}

// Bytes a conforming parser never reads (after an end-of-list, or from a malformed option
// on — Linux and the TOA modules stop there) but a lenient one might: zeroed when any of
// them is of a TOA kind.
bool blank_unparsed_tail(rte_tcp_hdr* tcp, uint32_t from, uint32_t end) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(tcp);
  for (uint32_t at = from; at < end; at++) {
    if (is_toa_kind(base[at])) {
      fill_tcp_bytes(tcp, from, end, kTcpOptEol);
      return true;
    }
  }
  return false;
}

// The server's SYN-ACK announces the MSS the client will send with; leave room for TOA
// (option_length bytes, the connection's).
void lower_synack_mss(ParsedPacket& p, uint8_t option_length, WorkerCounters& counters) {
  if (tcp_lower_mss(p.tcp, option_length)) counters.event(Event::TOA_MSS_LOWERED);
}

// Grows the segment by the option (option_length bytes: 8 for an IPv4 client, 20 for an
// IPv6 one), in front of the existing options. The headers
// before the insertion point (Ethernet, IP, the fixed TCP header: ~54 bytes) move
// into the headroom, so the payload is never copied.
// False when the mbuf has no headroom (nothing changed).
bool insert_toa(rte_mbuf* m, ParsedPacket& p, const Conn& c, uint8_t option_length) {
  uint8_t* old_start = rte_pktmbuf_mtod(m, uint8_t*);
  size_t moved = static_cast<size_t>(reinterpret_cast<uint8_t*>(p.tcp) + sizeof(rte_tcp_hdr) - old_start);
  auto* start = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, option_length));
  if (!start) return false;
  std::memmove(start, old_start, moved);
  p.eth = reinterpret_cast<rte_ether_hdr*>(start);
  l3_headers_moved(p, -static_cast<int>(option_length));

  uint8_t* option = start + moved;
  option[0] = kToaKind;
  option[1] = option_length;
  std::memcpy(option + 2, &c.client_port, 2);  // network order, as is the address
  if (option_length == kToaLengthV4) {
    const uint32_t client_v4 = ip_v4(c.client_addr);
    std::memcpy(option + 4, &client_v4, 4);
  } else {
    std::memcpy(option + 4, c.client_addr.bytes, 16);
  }

  // Incremental, not a full recompute: same result for a good segment, cheaper, and a
  // segment that arrived corrupted stays detectably corrupted instead of being blessed.
  // What changed in the sum: data offset word, pseudo-header length, the option's new
  // words (the bytes that moved did so by an even amount, which leaves the sum alone).
  uint8_t* tcp_bytes = reinterpret_cast<uint8_t*>(p.tcp);
  uint16_t offset_word_before = load16(tcp_bytes + 12);
  p.tcp->data_off = static_cast<uint8_t>(p.tcp->data_off + ((option_length / 4) << 4));
  LengthChange length = l3_set_payload_len(p, static_cast<uint16_t>(p.l4_len + option_length));
  uint16_t check = p.tcp->cksum;
  check = csum_replace16(check, offset_word_before, load16(tcp_bytes + 12));
  check = csum_replace16(check, length.before, length.after);
  for (int i = 0; i < option_length / 2; i++) check = csum_replace16(check, 0, load16(option + 2 * i));
  p.tcp->cksum = check;
  return true;
}

}  // namespace

void toa_remove_client_options_slow(ParsedPacket& p, WorkerCounters& counters) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(p.tcp);
  uint32_t end = tcp_header_bytes(p.tcp);
  for (uint32_t at = sizeof(rte_tcp_hdr); at < end;) {
    uint8_t kind = base[at];
    if (kind == kTcpOptEol) {
      if (blank_unparsed_tail(p.tcp, at + 1, end)) counters.event(Event::TOA_CLIENT_OPTION_REMOVED);
      return;
    }
    if (kind == kTcpOptNop) {
      at++;
      continue;
    }
    uint32_t length = at + 1 < end ? base[at + 1] : 0;
    if (length < 2 || at + length > end) {  // no length byte, length 0/1, or past the header
      if (blank_unparsed_tail(p.tcp, at, end)) counters.event(Event::TOA_CLIENT_OPTION_REMOVED);
      return;
    }
    if (is_toa_kind(kind)) {
      fill_tcp_bytes(p.tcp, at, at + length, kTcpOptNop);
      counters.event(Event::TOA_CLIENT_OPTION_REMOVED);
    }
    at += length;
  }
}

bool toa_process(rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction, uint16_t mtu,
                 WorkerCounters& counters) {
  uint8_t flags = p.tcp->tcp_flags;
  const uint8_t option_length = toa_option_length(c.client_addr);
  if (direction == Direction::OUTPUT) {
    constexpr uint8_t kSynAck = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
    if ((flags & (kSynAck | RTE_TCP_RST_FLAG)) == kSynAck) lower_synack_mss(p, option_length, counters);
    return true;
  }
  if ((flags & (RTE_TCP_SYN_FLAG | RTE_TCP_RST_FLAG)) || !(flags & RTE_TCP_ACK_FLAG)) return true;
  bool has_payload = p.l4_len > tcp_header_bytes(p.tcp);
  bool handshake_ack = !(c.flags & kConnToaAckDone);
  bool first_data = has_payload && !(c.flags & kConnToaDataDone);
  if (!handshake_ack && !first_data) return true;
  // Cheap refusals first: a segment that cannot carry the option goes without it (the
  // client's own TOA options are gone already) and the next segment tries again.
  if (tcp_header_bytes(p.tcp) + option_length > kTcpMaxHeaderLen) return counters.event(Event::TOA_NO_ROOM), true;
  if (p.ip_total_len + option_length > mtu) return counters.event(Event::TOA_OVER_MTU), true;
  // The insert updates the checksum incrementally, which keeps a corrupted segment
  // corrupted: the server would drop it and, had we marked the connection done, the
  // retransmission would go without the option. So verify this one segment in full.
  if (!l4_tcp_checksum_ok(p)) return false;
  if (!insert_toa(m, p, c, option_length)) return counters.event(Event::TOA_NO_ROOM), true;
  c.flags |= kConnToaAckDone;
  if (has_payload) c.flags |= kConnToaDataDone;
  counters.event(Event::TOA_ADDED);
  return true;
}

}  // namespace pc
