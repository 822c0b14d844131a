#include "pipeline/synproxy/synproxy.h"

#include <cstring>
#include <rte_malloc.h>
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/tcp_options.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/defend/defend.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/conn/conn_create.h"
#include "pipeline/output/neigh.h"
#include "pipeline/carriage/proxy_header.h"
#include "pipeline/output/route.h"
#include "pipeline/synproxy/synproxy_cookie.h"
#include "pipeline/carriage/toa.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint8_t kActive = 1;       // a SYNPROXY connection
constexpr uint8_t kEstablished = 2;  // the server answered (or no handshake of ours): translate
constexpr uint8_t kTimestamps = 4;   // both ends use timestamps: shift them by ts_offset
constexpr uint8_t kProxyHeader = 8;  // client→server stream starts with a PROXY header
constexpr uint16_t kNoHold = 0xffff;
constexpr uint16_t kDefaultMss = 536;  // RFC 1122 when the SYN has no MSS option
constexpr uint16_t kDefaultMss6 = 1220;  // the same for IPv6 (RFC 9293 3.7.1: 1280 - 60)
constexpr uint8_t kMaxWscale = 14;     // RFC 7323 §2.3

constexpr uint8_t kOptWscale = 3, kOptSackPermitted = 4, kOptSack = 5, kOptTimestamp = 8;  // EOL, NOP, MSS: tcp_options.h

struct TcpOptions {
  bool has_mss = false, has_wscale = false, sack_permitted = false, has_ts = false;
  uint16_t mss = 0;
  uint8_t wscale = 0;
  uint32_t tsval = 0, tsecr = 0;
};

inline uint32_t load32(const uint8_t* at) {
  uint32_t v;
  std::memcpy(&v, at, sizeof v);
  return rte_be_to_cpu_32(v);
}
inline void store32(uint8_t* at, uint32_t host_value) {
  uint32_t v = rte_cpu_to_be_32(host_value);
  std::memcpy(at, &v, sizeof v);
}

inline uint8_t* tcp_bytes(const ParsedPacket& p) { return reinterpret_cast<uint8_t*>(p.tcp); }
inline uint32_t tcp_header_len(const ParsedPacket& p) { return tcp_header_bytes(p.tcp); }
inline uint32_t payload_len(const ParsedPacket& p) { return p.l4_len - tcp_header_len(p); }

TcpOptions read_options(const ParsedPacket& p) {
  TcpOptions o;
  const uint8_t* tcp = tcp_bytes(p);
  tcp_walk_options(p.tcp, [&](uint8_t kind, uint32_t at, uint8_t length) {
    if (kind == kTcpOptMss && length == 4) o.has_mss = true, o.mss = static_cast<uint16_t>(tcp[at + 2] << 8 | tcp[at + 3]);
    if (kind == kOptWscale && length == 3) o.has_wscale = true, o.wscale = tcp[at + 2];
    if (kind == kOptSackPermitted && length == 2) o.sack_permitted = true;
    if (kind == kOptTimestamp && length == 10) o.has_ts = true, o.tsval = load32(tcp + at + 2), o.tsecr = load32(tcp + at + 6);
  });
  return o;
}

void patch32(uint8_t* tcp, uint32_t offset, uint32_t host_value) {
  uint8_t bytes[4];
  store32(bytes, host_value);
  tcp_patch(reinterpret_cast<rte_tcp_hdr*>(tcp), offset, bytes, 4);
}
void patch16(uint8_t* tcp, uint32_t offset, uint16_t host_value) {
  tcp_patch16(reinterpret_cast<rte_tcp_hdr*>(tcp), offset, host_value);
}

// MSS, then SACK-permitted + timestamps (or NOP NOP + timestamps), then NOP + window scale:
// the order Linux uses, at most 20 bytes. wscale < 0 = not offered.
uint32_t write_syn_options(uint8_t* at, uint16_t mss, bool sack, bool ts, uint32_t tsval, uint32_t tsecr, int wscale) {
  uint32_t n = 0;
  at[n++] = kTcpOptMss, at[n++] = 4, at[n++] = static_cast<uint8_t>(mss >> 8), at[n++] = static_cast<uint8_t>(mss);
  if (ts) {
    if (sack) at[n++] = kOptSackPermitted, at[n++] = 2;
    else at[n++] = kTcpOptNop, at[n++] = kTcpOptNop;
    at[n++] = kOptTimestamp, at[n++] = 10;
    store32(at + n, tsval), store32(at + n + 4, tsecr), n += 8;
  } else if (sack) {
    at[n++] = kTcpOptNop, at[n++] = kTcpOptNop, at[n++] = kOptSackPermitted, at[n++] = 2;
  }
  if (wscale >= 0) at[n++] = kTcpOptNop, at[n++] = kOptWscale, at[n++] = 3, at[n++] = static_cast<uint8_t>(wscale);
  return n;
}

uint32_t write_ts_only(uint8_t* at, uint32_t tsval, uint32_t tsecr) {
  at[0] = kTcpOptNop, at[1] = kTcpOptNop, at[2] = kOptTimestamp, at[3] = 10;
  store32(at + 4, tsval), store32(at + 8, tsecr);
  return 12;
}

inline uint16_t default_mss(bool ipv6) { return ipv6 ? kDefaultMss6 : kDefaultMss; }
inline uint16_t our_mss(bool ipv6) { return ipv6 ? kSynproxyMss6 : kSynproxyMss; }

void fill_ipv4(rte_ipv4_hdr* ip, const IpAddr& src, const IpAddr& dst, uint16_t total_len) {
  ip->type_of_service = 0;
  ip->total_length = rte_cpu_to_be_16(total_len);
  ip->packet_id = 0;
  ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = kSynproxyTtl;
  ip->next_proto_id = IPPROTO_TCP;
  ip->src_addr = ip_v4(src);
  ip->dst_addr = ip_v4(dst);
}

// A fixed IPv6 header straight before TCP: hop limit as the IPv4 TTL, traffic class and
// flow label 0 (the segment is ours, not the peer's: nothing of its header is echoed).
void fill_ipv6(rte_ipv6_hdr* ip6, const IpAddr& src, const IpAddr& dst, uint16_t tcp_len) {
  ip6->vtc_flow = RTE_BE32(6u << 28);
  ip6->payload_len = rte_cpu_to_be_16(tcp_len);
  ip6->proto = IPPROTO_TCP;
  ip6->hop_limits = kSynproxyTtl;
  std::memcpy(ip6->src_addr, src.bytes, 16);
  std::memcpy(ip6->dst_addr, dst.bytes, 16);
}

// Header fields of a TCP segment we write ourselves. Addresses/ports network order.
struct Segment {
  IpAddr src, dst;
  uint16_t sport, dport;
  uint32_t seq, ack;  // host order
  uint8_t flags;
  uint16_t window;
};

void fill_tcp(rte_tcp_hdr* tcp, const Segment& g, uint32_t options_len) {
  tcp->src_port = g.sport;
  tcp->dst_port = g.dport;
  tcp->sent_seq = rte_cpu_to_be_32(g.seq);
  tcp->recv_ack = rte_cpu_to_be_32(g.ack);
  tcp->data_off = static_cast<uint8_t>(((sizeof(rte_tcp_hdr) + options_len) / 4) << 4);
  tcp->tcp_flags = g.flags;
  tcp->rx_win = rte_cpu_to_be_16(g.window);
  tcp->cksum = 0;
  tcp->tcp_urp = 0;
}

// rte_ipv4_cksum + rte_ipv4_udptcp_cksum with csum_sum (4 bytes per add): this was ~10% of
// the cookie SYN-ACK path in perf. IPv6 has only the TCP checksum, over its pseudo-header
// (l3.h). tcp->cksum (and IPv4's hdr_checksum) are 0 on entry.
void finish_checksums(ParsedPacket& p) {
  if (p.ip6) return l4_tcp_checksum_fill(p);
  rte_ipv4_hdr* ip = p.ip;
  rte_tcp_hdr* tcp = p.tcp;
  ip->hdr_checksum = 0;
  uint32_t ip_header_len = (ip->version_ihl & 0x0f) * 4u;
  ip->hdr_checksum = static_cast<uint16_t>(~csum_ipv4_header(ip, ip_header_len));
  uint16_t tcp_len = static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - ip_header_len);
  uint64_t pseudo = l4_pseudo_header_sum(ip_from_v4(ip->src_addr), ip_from_v4(ip->dst_addr), IPPROTO_TCP, tcp_len);
  tcp->cksum = static_cast<uint16_t>(~csum_sum(tcp, tcp_len, pseudo));
}

// What rewrite_in_place needs of a received IPv4 header before fill_ipv4 overwrites it:
// the words fill_ipv4 writes and the checksum parse_ipv4 verified.
struct Ipv4Before {
  uint32_t ihl_tos_length, id_fragment, src, dst;
  uint16_t ttl_protocol, check;
};

Ipv4Before ipv4_before(const rte_ipv4_hdr* ip) {
  Ipv4Before b;
  std::memcpy(&b.ihl_tos_length, ip, 4);
  std::memcpy(&b.id_fragment, reinterpret_cast<const uint8_t*>(ip) + 4, 4);
  std::memcpy(&b.ttl_protocol, reinterpret_cast<const uint8_t*>(ip) + 8, 2);
  b.check = ip->hdr_checksum, b.src = ip->src_addr, b.dst = ip->dst_addr;
  return b;
}

// The checksums of a segment rewrite_in_place rebuilt, from values in registers instead of
// summing the headers just stored: a load wider than the stores it reads waits for them to
// retire, and that wait was a third of finish_checksums' samples on the cookie SYN-ACK. The
// IPv4 header by RFC 1624 from the received one's (verified by parse_ipv4), over the words
// fill_ipv4 wrote (32-bit words are pairs of 16-bit ones: 2^16 = 1 mod 2^16 - 1); TCP from g,
// the options as written and the pseudo-header. IPv6 has only the TCP checksum.
void finish_checksums_rewritten(ParsedPacket& p, const Ipv4Before& before, const Segment& g, const uint8_t* options,
                                uint32_t options_len) {
  if (p.ip6) return l4_tcp_checksum_fill(p);
  const uint32_t ihl_tos_length = rte_cpu_to_be_32(static_cast<uint32_t>(p.ip->version_ihl) << 24 | p.ip_total_len);
  const uint32_t id_fragment = rte_cpu_to_be_32(RTE_IPV4_HDR_DF_FLAG);
  const uint16_t ttl_protocol = rte_cpu_to_be_16(static_cast<uint16_t>(kSynproxyTtl << 8 | IPPROTO_TCP));
  uint64_t sum = static_cast<uint16_t>(~before.check);
  sum += static_cast<uint32_t>(~before.ihl_tos_length) + static_cast<uint64_t>(ihl_tos_length);
  sum += static_cast<uint32_t>(~before.id_fragment) + static_cast<uint64_t>(id_fragment);
  sum += static_cast<uint16_t>(~before.ttl_protocol) + static_cast<uint64_t>(ttl_protocol);
  sum += static_cast<uint32_t>(~before.src) + static_cast<uint64_t>(ip_v4(g.src));
  sum += static_cast<uint32_t>(~before.dst) + static_cast<uint64_t>(ip_v4(g.dst));
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  p.ip->hdr_checksum = static_cast<uint16_t>(~csum_finish(static_cast<uint32_t>(sum)));

  uint64_t tcp = l4_pseudo_header_sum(g.src, g.dst, IPPROTO_TCP, p.l4_len);
  tcp += g.sport + static_cast<uint64_t>(g.dport);
  tcp += static_cast<uint64_t>(rte_cpu_to_be_32(g.seq)) + rte_cpu_to_be_32(g.ack);
  const uint8_t data_off = static_cast<uint8_t>(((sizeof(rte_tcp_hdr) + options_len) / 4) << 4);
  tcp += rte_cpu_to_be_16(static_cast<uint16_t>(data_off << 8 | g.flags));
  tcp += rte_cpu_to_be_16(g.window);  // checksum and urgent pointer: 0
  p.tcp->cksum = static_cast<uint16_t>(~csum_sum(options, options_len, tcp));
}

// Turns the received segment into a header-only one: g with `options` (options_len bytes),
// of p's family (g's addresses are). An IPv4 header keeps its length (options included);
// an IPv6 one loses its extension headers (TCP moves up to just after the fixed header).
// False when the mbuf has no room.
bool rewrite_in_place(rte_mbuf* m, ParsedPacket& p, const Segment& g, const uint8_t* options, uint32_t options_len) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint32_t l3_offset = static_cast<uint32_t>(l3_header(p) - frame);
  uint32_t tcp_len = sizeof(rte_tcp_hdr) + options_len;
  if (p.ip6) {
    // Nothing of the old TCP header is read past here (g and options are copies).
    p.ip_header_len = sizeof(rte_ipv6_hdr);
    p.l4_protocol = IPPROTO_TCP;
    p.ip6_fragment_at = 0;
    p.tcp = reinterpret_cast<rte_tcp_hdr*>(l3_header(p) + sizeof(rte_ipv6_hdr));
  }
  uint32_t want = l3_offset + p.ip_header_len + tcp_len;
  uint32_t have = rte_pktmbuf_data_len(m);
  if (want > have) {
    if (!rte_pktmbuf_append(m, static_cast<uint16_t>(want - have))) return false;
  } else if (want < have) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(have - want));
  }
  const Ipv4Before before = p.ip6 ? Ipv4Before{} : ipv4_before(p.ip);
  if (p.ip6) fill_ipv6(p.ip6, g.src, g.dst, static_cast<uint16_t>(tcp_len));
  else fill_ipv4(p.ip, g.src, g.dst, static_cast<uint16_t>(p.ip_header_len + tcp_len));
  fill_tcp(p.tcp, g, options_len);
  if (options_len) std::memcpy(tcp_bytes(p) + sizeof(rte_tcp_hdr), options, options_len);  // RSTs: none (null)
  p.ip_total_len = static_cast<uint16_t>(p.ip_header_len + tcp_len);
  p.l4_len = static_cast<uint16_t>(tcp_len);
  finish_checksums_rewritten(p, before, g, options, options_len);
  return true;
}

// A new Ethernet/IP/TCP frame of g's family (MACs are filled by neigh_output). Null when
// the pool is empty.
rte_mbuf* build_segment(rte_mempool* pool, const Segment& g, const uint8_t* options, uint32_t options_len) {
  rte_mbuf* m = pool ? rte_pktmbuf_alloc(pool) : nullptr;
  if (!m) return nullptr;
  bool ipv6 = !ip_is_v4(g.src);
  uint32_t ip_len = ipv6 ? sizeof(rte_ipv6_hdr) : sizeof(rte_ipv4_hdr);
  uint32_t tcp_len = sizeof(rte_tcp_hdr) + options_len;
  uint32_t length = sizeof(rte_ether_hdr) + ip_len + tcp_len;
  uint8_t* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(length)));
  if (!frame) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memset(frame, 0, length);
  ParsedPacket p;
  p.eth = reinterpret_cast<rte_ether_hdr*>(frame);
  p.ip_header_len = static_cast<uint16_t>(ip_len);
  p.ip_total_len = static_cast<uint16_t>(ip_len + tcp_len);
  p.l4_protocol = IPPROTO_TCP;
  p.l4_len = static_cast<uint16_t>(tcp_len);
  p.tcp = reinterpret_cast<rte_tcp_hdr*>(frame + sizeof(rte_ether_hdr) + ip_len);
  if (ipv6) {
    p.eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    p.ip6 = reinterpret_cast<rte_ipv6_hdr*>(frame + sizeof(rte_ether_hdr));
    fill_ipv6(p.ip6, g.src, g.dst, static_cast<uint16_t>(tcp_len));
  } else {
    p.eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    p.ip = reinterpret_cast<rte_ipv4_hdr*>(frame + sizeof(rte_ether_hdr));
    p.ip->version_ihl = RTE_IPV4_VHL_DEF;
    fill_ipv4(p.ip, g.src, g.dst, static_cast<uint16_t>(ip_len + tcp_len));
  }
  fill_tcp(p.tcp, g, options_len);
  // memcpy from a null source is undefined even for 0 bytes (UBSan): RSTs carry no options.
  if (options_len) std::memcpy(tcp_bytes(p) + sizeof(rte_tcp_hdr), options, options_len);
  finish_checksums(p);
  return m;
}

inline void drop(Worker* w, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  w->counters->drop(reason);
}

// Routes a packet we made or rewrote to dst.
void send_to(Worker* w, const Snapshot& s, rte_mbuf* m, const IpAddr& dst, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!route_lookup(s, dst, &hop)) return drop(w, m, DropReason::NO_ROUTE);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
}

uint16_t take_hold(SynproxyTable* t) { return t->free_count ? t->free_holds[--t->free_count] : kNoHold; }

void give_hold(SynproxyTable* t, uint16_t slot) {
  t->holds[slot].count = 0;
  t->free_holds[t->free_count++] = slot;
}

void discard_held(Worker* w, SynproxyHold& hold) {
  for (uint32_t i = 0; i < hold.count; i++) drop(w, hold.packets[i], DropReason::SYNPROXY_SERVER_FAILED);
  hold.count = 0;
}

inline uint32_t now_ms(uint64_t now_us) { return static_cast<uint32_t>(now_us / 1000); }

// Client SYN → cookie SYN-ACK, built in the SYN's own buffer.
void answer_syn(Worker* w, const Snapshot& s, const ServiceEntry& svc, rte_mbuf* m, ParsedPacket& p, uint64_t now_us,
                TxQueues& tx) {
  TcpOptions o = read_options(p);
  bool ipv6 = l3_is_v6(p);
  uint16_t client_mss = o.has_mss ? o.mss : default_mss(ipv6);
  uint32_t mss_index = cookie_mss_index(client_mss, ipv6);
  uint32_t client_isn = rte_be_to_cpu_32(p.tcp->sent_seq);
  uint32_t cookie = cookie_make(l3_src(p), l3_dst(p), p.tcp->src_port, p.tcp->dst_port, client_isn,
                                mss_index, cookie_count(now_us));
  // Window scale and SACK can only be remembered in the timestamp.
  bool ts = o.has_ts;
  bool sack = ts && o.sack_permitted;
  int wscale = ts && o.has_wscale ? kSynproxyWscale : -1;
  uint32_t ts_bits = (o.has_wscale ? (o.wscale > kMaxWscale ? kMaxWscale : o.wscale) : kTsWscaleMask) |
                     (sack ? kTsSackBit : 0);
  uint8_t options[40];
  uint16_t mss = client_mss < our_mss(ipv6) ? client_mss : our_mss(ipv6);
  // One route lookup for both what the client's port carries (output/egress_mtu.h) and where
  // the SYN-ACK goes; with no route back the reply is built and dropped NO_ROUTE, as send_to does.
  NextHop back;
  const bool routed = route_lookup(s, l3_src(p), &back);
  if (routed) mss = mss_on_port(w, back.port_index, ipv6, mss);
  if (proxy_header_enabled(svc.client_address)) {
    // The PROXY header rides in front of the first segment: leave room for it.
    uint8_t header[kProxyHeaderMax];
    uint32_t n = proxy_header_write(header, svc.client_address, l3_src(p), p.tcp->src_port, l3_dst(p),
                                    p.tcp->dst_port);
    mss = static_cast<uint16_t>(mss > kDefaultMss + n ? mss - n : mss);
  } else if (svc.client_address == ClientAddress::TOA) {
    mss = static_cast<uint16_t>(mss - toa_option_length(l3_src(p)));  // as toa.h lowers a server's MSS: grown segments must fit
  }
  uint32_t options_len = write_syn_options(options, mss, sack, ts, cookie_tsval(now_ms(now_us), ts_bits), o.tsval, wscale);
  Segment g{l3_dst(p), l3_src(p), p.tcp->dst_port, p.tcp->src_port, cookie, client_isn + 1,
            RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, kSynproxyInitialWindow};
  if (!rewrite_in_place(m, p, g, options, options_len)) return drop(w, m, DropReason::MBUF_ALLOC_FAILED);
  w->counters->event(Event::SYNPROXY_SYN_ANSWERED);
  if (!routed) return drop(w, m, DropReason::NO_ROUTE);
  neigh_output(&w->neigh, s, m, back.port_index, back.gateway, now_us, tx);
}

// The backend SYN: client ISN, the client's options as the cookie kept them.
void send_backend_syn(Worker* w, const Snapshot& s, const Conn& c, SynproxyHold& hold, uint64_t now_us, TxQueues& tx) {
  uint8_t options[40];
  // The client's MSS as the cookie kept it (its family's table; a NAT64 server gets it as
  // is, the translation adds header bytes only on the client's side), then what the
  // server's port carries (output/egress_mtu.h).
  uint16_t client_mss = cookie_mss_value(hold.mss_index, ip_is_v6(c.client_addr));
  NextHop hop;  // one lookup for the MSS and the sending, as answer_syn
  const bool routed = route_lookup(s, c.server_addr, &hop);
  uint16_t mss = routed ? mss_on_port(w, hop.port_index, ip_is_v6(c.server_addr), client_mss) : client_mss;
  uint32_t options_len = write_syn_options(options, mss, hold.sack, hold.timestamps,
                                           hold.client_tsval, 0, hold.client_wscale);
  Segment g{c.local_addr, c.server_addr, c.local_port, c.server_port, hold.client_isn, 0, RTE_TCP_SYN_FLAG,
            hold.client_window};
  hold.syn_sent_us = now_us;
  rte_mbuf* syn = build_segment(w->params.pool, g, options, options_len);
  if (!syn) return w->counters->drop(DropReason::MBUF_ALLOC_FAILED);  // a client retransmission or the timer recovers
  w->counters->event(Event::SYNPROXY_SERVER_SYNS);
  if (!routed) return drop(w, syn, DropReason::NO_ROUTE);
  neigh_output(&w->neigh, s, syn, hop.port_index, hop.gateway, now_us, tx);
}

// A bad-cookie ACK on a service that asks for it: answered with RST|ACK at the sequence
// number the sender acknowledged (PROTOCOL.md §2.1, DPVS's answer), built in the ACK's own
// buffer; still counted bad_cookie. Stateless like the SYN-ACK, so a flood of forged ACKs
// costs one reply each and no memory.
void refuse_bad_cookie(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  w->counters->drop(DropReason::BAD_COOKIE);
  uint32_t consumed = payload_len(p) + ((p.tcp->tcp_flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
  Segment g{l3_dst(p), l3_src(p), p.tcp->dst_port, p.tcp->src_port, rte_be_to_cpu_32(p.tcp->recv_ack),
            rte_be_to_cpu_32(p.tcp->sent_seq) + consumed, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG, 0};
  if (!rewrite_in_place(m, p, g, nullptr, 0)) return rte_pktmbuf_free(m);
  send_to(w, s, m, g.dst, now_us, tx);
}

// Final ACK with a valid cookie: connection, backend SYN, hold any data.
void accept_ack(Worker* w, const Snapshot& s, const ServiceEntry& svc, rte_mbuf* m, ParsedPacket& p,
                uint64_t now_us, TxQueues& tx) {
  uint32_t client_isn = rte_be_to_cpu_32(p.tcp->sent_seq) - 1;
  uint32_t cookie = rte_be_to_cpu_32(p.tcp->recv_ack) - 1;
  int mss_index = cookie_check(l3_src(p), l3_dst(p), p.tcp->src_port, p.tcp->dst_port, client_isn, cookie,
                               cookie_count(now_us));
  if (mss_index < 0) {
    if (svc.synproxy_rst_on_bad_cookie) return refuse_bad_cookie(w, s, m, p, now_us, tx);
    return drop(w, m, DropReason::BAD_COOKIE);
  }
  // The service's new-connection caps apply here, where the connection is made (the SYN
  // made nothing). A refused ACK is only dropped: the client retransmits it, and by then
  // the rate or the count may allow it, as for a refused SYN without SYNPROXY.
  DropReason reason;
  if (!defend_admit_connection(w, s, svc, now_us, &reason)) return drop(w, m, reason);
  SynproxyTable& t = w->synproxy;
  uint16_t slot = take_hold(&t);
  if (slot == kNoHold) return drop(w, m, DropReason::SYNPROXY_HOLD_FULL);
  NextHop hop;
  uint32_t index = conn_create(w, s, svc, p, now_us, &hop, &reason);
  if (index == kNoConn) {
    give_hold(&t, slot);
    return drop(w, m, reason);
  }
  TcpOptions o = read_options(p);
  uint32_t ts_bits = o.has_ts ? (o.tsecr & ((1u << kTsOptionBits) - 1)) : kTsWscaleMask;
  uint32_t client_wscale = ts_bits & kTsWscaleMask;
  bool wscale = o.has_ts && client_wscale != kTsWscaleMask;
  bool sack = o.has_ts && (ts_bits & kTsSackBit);

  Conn& c = w->conns.records[index];
  conn_set_state(w, c, kStateSynSent);
  c.expires_us = now_us + kSynproxyServerWaitUs;
  SynproxyConn& sc = t.conns[index];
  sc = SynproxyConn{};
  sc.flags = static_cast<uint8_t>(kActive | (o.has_ts ? kTimestamps : 0));
  sc.seq_delta = cookie;
  sc.ts_offset = o.tsecr;
  sc.hold = slot;
  sc.client_wscale = wscale ? kSynproxyWscale : 0;
  if (proxy_header_enabled(svc.client_address)) {
    uint8_t header[kProxyHeaderMax];
    sc.flags = static_cast<uint8_t>(sc.flags | kProxyHeader);
    sc.client_isn = client_isn;
    sc.proxy_mode = static_cast<uint8_t>(svc.client_address);
    sc.proxy_len = static_cast<uint8_t>(proxy_header_write(header, svc.client_address, c.client_addr, c.client_port,
                                                           c.virtual_addr, c.virtual_port));
  }
  SynproxyHold& hold = t.holds[slot];
  hold.count = 0;
  hold.client_isn = client_isn;
  hold.client_tsval = o.tsval;
  hold.client_window = rte_be_to_cpu_16(p.tcp->rx_win);
  w->counters->event(Event::SYNPROXY_COOKIES_ACCEPTED);

  hold.mss_index = static_cast<uint8_t>(mss_index);
  hold.client_wscale = static_cast<int8_t>(wscale ? (client_wscale > kMaxWscale ? kMaxWscale : client_wscale) : -1);
  hold.sack = sack;
  hold.timestamps = o.has_ts;
  send_backend_syn(w, s, c, hold, now_us, tx);
  // The handshake ACK itself is replaced by the one we send after the server's SYN-ACK;
  // only data must reach the server.
  if (payload_len(p) || (p.tcp->tcp_flags & RTE_TCP_FIN_FLAG)) hold.packets[hold.count++] = m;
  else rte_pktmbuf_free(m);  // consumed: counted as synproxy_cookies_accepted
}

// Server SYN-ACK while the backend handshake is pending: ACK the server (in the
// SYN-ACK's buffer), switch to translation, hand the held client segments back.
void complete_handshake(Worker* w, const Snapshot& s, uint32_t index, rte_mbuf* m, ParsedPacket& p, uint64_t now_us,
                        TxQueues& tx, SynproxyReleased* released) {
  SynproxyTable& t = w->synproxy;
  SynproxyConn& sc = t.conns[index];
  SynproxyHold& hold = t.holds[sc.hold];
  Conn& c = w->conns.records[index];
  if (rte_be_to_cpu_32(p.tcp->recv_ack) != hold.client_isn + 1)
    return drop(w, m, DropReason::SYNPROXY_HANDSHAKE_PENDING);  // not an answer to our SYN
  TcpOptions o = read_options(p);
  uint32_t server_isn = rte_be_to_cpu_32(p.tcp->sent_seq);
  sc.seq_delta = sc.seq_delta - server_isn;
  bool ts = (sc.flags & kTimestamps) && o.has_ts;
  sc.ts_offset = ts ? o.tsval - sc.ts_offset : 0;
  if (!ts) sc.flags = static_cast<uint8_t>(sc.flags & ~kTimestamps);
  sc.server_wscale = o.has_wscale ? (o.wscale > kMaxWscale ? kMaxWscale : o.wscale) : 0;
  // The client was told kSynproxyWscale already; a server without window scaling still
  // gets its windows shifted down to that scale (client->server windows are not widened:
  // such a server just sees a small window).
  sc.flags = static_cast<uint8_t>(sc.flags | kEstablished);

  uint8_t options[12];
  uint32_t options_len = ts ? write_ts_only(options, hold.client_tsval, o.tsval) : 0;
  Segment g{c.local_addr, c.server_addr, c.local_port, c.server_port, hold.client_isn + 1, server_isn + 1,
            RTE_TCP_ACK_FLAG, hold.client_window};
  if (rewrite_in_place(m, p, g, options, options_len)) send_to(w, s, m, c.server_addr, now_us, tx);
  else drop(w, m, DropReason::MBUF_ALLOC_FAILED);  // the first data segment acknowledges it too
  conn_set_state(w, c, kStateEstablished);
  c.expires_us = now_us + static_cast<uint64_t>(w->services[c.service_id].timeouts.seconds[kStateEstablished]) * 1000000ull;
  w->counters->event(Event::SYNPROXY_SERVER_HANDSHAKES);

  // The held client segments go through the connection stage again (conn_stage.cpp).
  released->count = hold.count;
  std::memcpy(released->packets, hold.packets, hold.count * sizeof hold.packets[0]);
  give_hold(&t, sc.hold);
  sc.hold = kNoHold;
}

// Established translation, client → server: acknowledgements and SACK edges back into the
// server's sequence space, echoed timestamps into the server's clock.
void translate_input(const SynproxyConn& sc, ParsedPacket& p) {
  if (!(sc.flags & kActive)) return;
  uint8_t* tcp = tcp_bytes(p);
  if (p.tcp->tcp_flags & RTE_TCP_ACK_FLAG) patch32(tcp, 8, rte_be_to_cpu_32(p.tcp->recv_ack) - sc.seq_delta);
  bool ts = sc.flags & kTimestamps;
  tcp_walk_options(p.tcp, [&](uint8_t kind, uint32_t at, uint8_t length) {
    if (kind == kOptSack && length >= 10 && (length - 2) % 8 == 0) {
      for (uint32_t edge = at + 2; edge < at + length; edge += 4) patch32(tcp, edge, load32(tcp + edge) - sc.seq_delta);
    } else if (ts && kind == kOptTimestamp && length == 10) {
      patch32(tcp, at + 6, load32(tcp + at + 6) + sc.ts_offset);
    }
  });
}

// Server → client: sequence numbers into the cookie's space, timestamps into our clock,
// the window into the scale the client was told.
void translate_output(const SynproxyConn& sc, ParsedPacket& p) {
  if (!(sc.flags & kActive)) return;
  uint8_t* tcp = tcp_bytes(p);
  patch32(tcp, 4, rte_be_to_cpu_32(p.tcp->sent_seq) + sc.seq_delta);
  if (sc.server_wscale != sc.client_wscale) {
    uint64_t window = (static_cast<uint64_t>(rte_be_to_cpu_16(p.tcp->rx_win)) << sc.server_wscale) >> sc.client_wscale;
    patch16(tcp, 14, static_cast<uint16_t>(window > 0xffff ? 0xffff : window));
  }
  if (!(sc.flags & kTimestamps)) return;
  tcp_walk_options(p.tcp, [&](uint8_t kind, uint32_t at, uint8_t length) {
    if (kind == kOptTimestamp && length == 10) patch32(tcp, at + 2, load32(tcp + at + 2) - sc.ts_offset);
  });
}

inline bool seq_after(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

enum class ProxyVerdict : uint8_t { FORWARD, NO_MBUF_ROOM, BAD_CHECKSUM };

// Replaces the first `cut` payload bytes with `insert` (n bytes), in place: the tail grows
// or shrinks by n - cut. Lengths and both checksums recomputed (the caller verified the
// segment first, so nothing corrupted is blessed). False when the mbuf cannot grow.
bool replace_payload_front(rte_mbuf* m, ParsedPacket& p, uint32_t cut, const uint8_t* insert, uint32_t n) {
  uint8_t* payload = tcp_bytes(p) + tcp_header_len(p);
  uint32_t length = payload_len(p);
  uint32_t kept = length - cut;
  if (n > cut && !rte_pktmbuf_append(m, static_cast<uint16_t>(n - cut))) return false;
  std::memmove(payload + n, payload + cut, kept);
  if (n) std::memcpy(payload, insert, n);
  if (n < cut) rte_pktmbuf_trim(m, static_cast<uint16_t>(cut - n));
  l3_set_payload_len(p, static_cast<uint16_t>(p.l4_len - cut + n));
  p.tcp->cksum = 0;
  finish_checksums(p);
  return true;
}

// Client → server on a PROXY connection. The server's stream must be our header followed
// by the client's bytes from first = client ISN + 1 on: server sequence = client sequence +
// header length past first, and the header occupies [first, first + length). A Linux
// receiver takes bytes at rcv_nxt and trims older ones off the front of a segment, so no
// client byte may reach a server sequence number below first + length:
// - past first: moved up by the header length (an urgent pointer there cannot reach back);
// - SYN: any payload removed (with TCP Fast Open it would start a stream), never moved;
// - RST: moved when past first, else as is (Linux never queues an RST's payload);
// - data or FIN reaching first: the bytes before first cut, the header put in front, sent
//   at first — so every (re)transmission at first carries the header, once, in front;
// - entirely before first: reduced to a bare ACK at its own sequence number (the server
//   answers with an ACK, which is all a keepalive probe wants);
// - urgent pointers of everything not moved up cleared (one could mark a header byte
//   urgent, and Linux takes urgent bytes out of the stream).
// Segments rebuilt here are verified first (BAD_CHECKSUM: the caller drops them).
ProxyVerdict proxy_input(const SynproxyConn& sc, const Conn& c, rte_mbuf* m, ParsedPacket& p, WorkerCounters& counters) {
  uint8_t* tcp = tcp_bytes(p);
  uint32_t seq = rte_be_to_cpu_32(p.tcp->sent_seq);
  uint32_t first = sc.client_isn + 1;
  uint8_t flags = p.tcp->tcp_flags;
  uint32_t length = payload_len(p);
  bool syn = flags & RTE_TCP_SYN_FLAG, rst = flags & RTE_TCP_RST_FLAG;
  if (seq_after(seq, first) && !syn) {
    patch32(tcp, 4, seq + sc.proxy_len);
    return ProxyVerdict::FORWARD;
  }
  if (rst) return ProxyVerdict::FORWARD;
  bool fin = flags & RTE_TCP_FIN_FLAG, urgent = flags & RTE_TCP_URG_FLAG;
  uint32_t before = first - seq;  // bytes before first (seq is not past first here)
  bool reaches_first = !syn && length + (fin ? 1u : 0u) > before;
  if (!reaches_first && length == 0) {
    if (!urgent) return ProxyVerdict::FORWARD;  // a bare ACK (or SYN): nothing to cut
    uint8_t without_urgent = static_cast<uint8_t>(flags & ~RTE_TCP_URG_FLAG);
    tcp_patch(reinterpret_cast<rte_tcp_hdr*>(tcp), 13, &without_urgent, 1);
    patch16(tcp, 18, 0);
    counters.event(Event::PROXY_SEGMENT_TRIMMED);
    return ProxyVerdict::FORWARD;
  }
  if (!l4_tcp_checksum_ok(p)) return ProxyVerdict::BAD_CHECKSUM;
  p.tcp->tcp_flags = static_cast<uint8_t>(flags & ~RTE_TCP_URG_FLAG);
  p.tcp->tcp_urp = 0;
  if (!reaches_first) {
    // SYN payload, or bytes (and a FIN) that all lie before first: a bare segment.
    if (!syn) p.tcp->tcp_flags = static_cast<uint8_t>(p.tcp->tcp_flags & ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG));
    counters.event(Event::PROXY_SEGMENT_TRIMMED);
    return replace_payload_front(m, p, length, nullptr, 0) ? ProxyVerdict::FORWARD : ProxyVerdict::NO_MBUF_ROOM;
  }
  if (before || urgent) counters.event(Event::PROXY_SEGMENT_TRIMMED);
  uint8_t header[kProxyHeaderMax];
  uint32_t n = proxy_header_write(header, static_cast<ClientAddress>(sc.proxy_mode), c.client_addr, c.client_port,
                                  c.virtual_addr, c.virtual_port);
  p.tcp->sent_seq = rte_cpu_to_be_32(first);
  return replace_payload_front(m, p, before, header, n) ? ProxyVerdict::FORWARD : ProxyVerdict::NO_MBUF_ROOM;
}

// Server → client on a PROXY connection: acknowledgements and SACK edges of client data
// back by the header length (an ack inside the header maps to the stream start); the MSS
// the server offers is lowered so a first segment plus the header still fits.
// The stream start is where the server's last SYN-ACK says: which client SYN the server
// took (a first one with a bad checksum, a later one with another ISN, a new connection on
// the same ports after a reset, with or without SYNPROXY) only the server knows, and its
// SYN-ACK acknowledges exactly the start (SYN payloads never reach it, see proxy_input).
// The client cannot send accepted data before that SYN-ACK has passed through here.
void proxy_output(SynproxyConn& sc, ParsedPacket& p) {
  uint8_t* tcp = tcp_bytes(p);
  constexpr uint8_t kSynAck = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
  if ((p.tcp->tcp_flags & (kSynAck | RTE_TCP_RST_FLAG)) == kSynAck) sc.client_isn = rte_be_to_cpu_32(p.tcp->recv_ack) - 1;
  uint32_t first = sc.client_isn + 1;
  auto back = [&](uint32_t v) { return seq_after(v, first + sc.proxy_len) ? v - sc.proxy_len : (seq_after(v, first) ? first : v); };
  if (p.tcp->tcp_flags & RTE_TCP_ACK_FLAG) patch32(tcp, 8, back(rte_be_to_cpu_32(p.tcp->recv_ack)));
  bool syn = p.tcp->tcp_flags & RTE_TCP_SYN_FLAG;
  tcp_walk_options(p.tcp, [&](uint8_t kind, uint32_t at, uint8_t length) {
    if (kind == kOptSack && length >= 10 && (length - 2) % 8 == 0) {
      for (uint32_t edge = at + 2; edge < at + length; edge += 4) patch32(tcp, edge, back(load32(tcp + edge)));
    } else if (syn && kind == kTcpOptMss && length == 4) {
      uint16_t mss = static_cast<uint16_t>(tcp[at + 2] << 8 | tcp[at + 3]);
      if (mss > kDefaultMss + sc.proxy_len) patch16(tcp, at + 2, static_cast<uint16_t>(mss - sc.proxy_len));
    }
  });
}

// The client learns its connection is gone: RST from VIP:vport with the sequence number it expects.
void reset_client(Worker* w, const Snapshot& s, const Conn& c, uint32_t seq, uint32_t ack, uint64_t now_us, TxQueues& tx) {
  Segment g{c.virtual_addr, c.client_addr, c.virtual_port, c.client_port, seq, ack,
            RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG, 0};
  rte_mbuf* rst = build_segment(w->params.pool, g, nullptr, 0);
  if (!rst) return w->counters->drop(DropReason::MBUF_ALLOC_FAILED);
  w->counters->event(Event::SYNPROXY_CLIENT_RESETS);
  send_to(w, s, rst, c.client_addr, now_us, tx);
}

}  // namespace

bool synproxy_handshake_pending(const SynproxyConn& sc) { return (sc.flags & kActive) && !(sc.flags & kEstablished); }

bool synproxy_init(SynproxyTable* t, uint32_t conn_capacity, int socket_id, SynproxyConn* conns, std::string* error) {
  if (!syncookie_keys_init()) {
    *error = "synproxy: getrandom() gave no key material";
    return false;
  }
  t->hold_capacity = conn_capacity < kNoHold ? conn_capacity : kNoHold;
  t->external_conns = conns != nullptr;
  t->conns = conns ? conns : static_cast<SynproxyConn*>(rte_zmalloc_socket(
      "pc_synproxy_conns", sizeof(SynproxyConn) * conn_capacity, RTE_CACHE_LINE_SIZE, socket_id));
  t->holds = static_cast<SynproxyHold*>(
      rte_zmalloc_socket("pc_synproxy_holds", sizeof(SynproxyHold) * t->hold_capacity, RTE_CACHE_LINE_SIZE, socket_id));
  t->free_holds = static_cast<uint16_t*>(
      rte_zmalloc_socket("pc_synproxy_free", sizeof(uint16_t) * t->hold_capacity, RTE_CACHE_LINE_SIZE, socket_id));
  if (!t->conns || !t->holds || !t->free_holds) {
    *error = "synproxy: out of memory for " + std::to_string(conn_capacity) + " connections";
    if (!t->external_conns) rte_free(t->conns);
    rte_free(t->holds), rte_free(t->free_holds);
    *t = SynproxyTable{};
    return false;
  }
  for (uint32_t i = 0; i < t->hold_capacity; i++) t->free_holds[i] = static_cast<uint16_t>(t->hold_capacity - 1 - i);
  t->free_count = t->hold_capacity;
  return true;
}

void synproxy_destroy(SynproxyTable* t, WorkerCounters* counters) {
  if (t->holds) {
    for (uint32_t i = 0; i < t->hold_capacity; i++) {
      for (uint32_t k = 0; k < t->holds[i].count; k++) {
        rte_pktmbuf_free(t->holds[i].packets[k]);
        counters->drop(DropReason::SYNPROXY_SERVER_FAILED);
      }
    }
  }
  if (!t->external_conns) rte_free(t->conns);
  rte_free(t->holds), rte_free(t->free_holds);
  *t = SynproxyTable{};
}

void synproxy_new_flow(Worker* w, const Snapshot& s, const ServiceEntry& svc, rte_mbuf* m, ParsedPacket& p,
                       uint64_t now_us, TxQueues& tx) {
  uint8_t flags = p.tcp->tcp_flags;
  if ((flags & RTE_TCP_SYN_FLAG) && !(flags & (RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)))
    return answer_syn(w, s, svc, m, p, now_us, tx);
  if ((flags & RTE_TCP_ACK_FLAG) && !(flags & (RTE_TCP_SYN_FLAG | RTE_TCP_RST_FLAG)))
    return accept_ack(w, s, svc, m, p, now_us, tx);
  drop(w, m, DropReason::NO_CONN);
}

bool synproxy_conn_packet(Worker* w, const Snapshot& s, uint32_t index, Direction direction, rte_mbuf* m,
                          ParsedPacket& p, uint64_t now_us, TxQueues& tx, SynproxyReleased* released) {
  released->count = 0;
  SynproxyConn& sc = w->synproxy.conns[index];
  uint8_t flags = p.tcp->tcp_flags;
  if (sc.flags & kEstablished) {
    if (direction == Direction::INPUT) {
      translate_input(sc, p);
      if (!(sc.flags & kProxyHeader)) return false;
      switch (proxy_input(sc, w->conns.records[index], m, p, *w->counters)) {
        case ProxyVerdict::FORWARD: return false;
        case ProxyVerdict::NO_MBUF_ROOM: return drop(w, m, DropReason::MBUF_ALLOC_FAILED), true;  // the client retransmits
        case ProxyVerdict::BAD_CHECKSUM: return drop(w, m, DropReason::CLIENT_ADDRESS_BAD_CHECKSUM), true;
      }
    } else {
      translate_output(sc, p);
      if (sc.flags & kProxyHeader) proxy_output(sc, p);
    }
    return false;
  }
  SynproxyHold& hold = w->synproxy.holds[sc.hold];
  if (direction == Direction::INPUT) {
    // A retransmitted final ACK or early data: hold it (no second backend SYN).
    if (!(flags & RTE_TCP_ACK_FLAG) || (flags & RTE_TCP_SYN_FLAG))
      return drop(w, m, DropReason::SYNPROXY_HANDSHAKE_PENDING), true;
    if (now_us - hold.syn_sent_us >= kSynproxySynResendUs) send_backend_syn(w, s, w->conns.records[index], hold, now_us, tx);
    if (hold.count >= kSynproxyHoldMax) return drop(w, m, DropReason::SYNPROXY_HOLD_FULL), true;
    hold.packets[hold.count++] = m;
    return true;
  }
  if ((flags & RTE_TCP_SYN_FLAG) && (flags & RTE_TCP_ACK_FLAG) && !(flags & RTE_TCP_RST_FLAG)) {
    complete_handshake(w, s, index, m, p, now_us, tx, released);
    return true;
  }
  if (flags & RTE_TCP_RST_FLAG) {
    // Refused: relay the RST at the sequence number the client expects, and close.
    discard_held(w, hold);
    give_hold(&w->synproxy, sc.hold);
    sc.hold = kNoHold;
    sc.seq_delta = sc.seq_delta + 1 - rte_be_to_cpu_32(p.tcp->sent_seq);
    sc.ts_offset = 0;
    sc.flags = static_cast<uint8_t>((sc.flags | kEstablished) & ~kTimestamps);
    w->counters->event(Event::SYNPROXY_CLIENT_RESETS);
    count_reset_from_server(w, w->conns.records[index]);  // passive health; the state below keeps advance() from counting it again
    conn_set_state(w, w->conns.records[index], kStateClose);  // IPVS's table keeps SYN_SENT on an output RST
    translate_output(sc, p);
    return false;
  }
  drop(w, m, DropReason::SYNPROXY_HANDSHAKE_PENDING);
  return true;
}

void synproxy_track_proxy_header(Worker* w, uint32_t index, ClientAddress mode, const ParsedPacket& p) {
  const Conn& c = w->conns.records[index];
  uint8_t header[kProxyHeaderMax];
  SynproxyConn& sc = w->synproxy.conns[index];
  sc = SynproxyConn{};
  sc.flags = kEstablished | kProxyHeader;
  sc.hold = kNoHold;
  sc.client_isn = rte_be_to_cpu_32(p.tcp->sent_seq);
  sc.proxy_mode = static_cast<uint8_t>(mode);
  sc.proxy_len = static_cast<uint8_t>(
      proxy_header_write(header, mode, c.client_addr, c.client_port, c.virtual_addr, c.virtual_port));
}

void synproxy_on_expire(Worker* w, uint32_t index) {
  SynproxyConn& sc = w->synproxy.conns[index];
  if (!sc.flags) return;
  if (!(sc.flags & kEstablished)) {
    SynproxyHold& hold = w->synproxy.holds[sc.hold];
    discard_held(w, hold);
    const Conn& c = w->conns.records[index];
    if (w->timer_snapshot && w->timer_tx)
      reset_client(w, *w->timer_snapshot, c, sc.seq_delta + 1, hold.client_isn + 1, w->now_us, *w->timer_tx);
    give_hold(&w->synproxy, sc.hold);
  }
  sc = SynproxyConn{};
}

}  // namespace pc
