// Drop reasons and data-plane events, declared once (VPP style). Each X-macro
// generates the enum, its wire names (Prometheus labels, gRPC map keys, the TS
// union type in src/dataplane/types.ts) and nothing else may invent a reason.
#pragma once
#include <cstdint>

// X(ENUM_NAME, "wire_name") — a packet freed without being sent increments exactly one.
#define PC_DROP_REASONS(X)                                                   \
  X(MALFORMED_L2, "malformed_l2")           /* runt frame, bad VLAN/ethertype layout */ \
  X(RX_SEGMENTED, "rx_segmented")           /* frame delivered in several mbufs: longer than the receive buffer, which fits the largest port MTU (core/port_mtu.h) */ \
  X(MALFORMED_L3, "malformed_l3")           /* bad IPv4 version/ihl/length/checksum; an IPv4 fragment that is empty, or not the last and not a multiple of 8 bytes */ \
  X(MALFORMED_L4, "malformed_l4")           /* truncated TCP/UDP/ICMP header, bad data offset */ \
  X(MALFORMED_ARP, "malformed_arp")         /* ARP not Ethernet/IPv4 or truncated */ \
  X(UNSUPPORTED_L3, "unsupported_l3")       /* ethertype we do not handle (VLAN tags, MPLS, ...) */ \
  X(UNSUPPORTED_L4, "unsupported_l4")       /* IP protocol / IPv6 upper-layer header other than TCP/UDP/ICMP(v6) to an owned address */ \
  X(NOT_FOR_US, "not_for_us")               /* unicast MAC that is not the port's, or IP not owned and not translatable */ \
  X(ARP_NOT_FOR_US, "arp_not_for_us")       /* ARP request for an address we do not own on that port */ \
  X(FRAG_DROPPED, "frag_dropped")           /* IPv4 or IPv6 fragment refused by fragment policy drop (the default) */ \
  X(TTL_EXCEEDED, "ttl_exceeded")           /* TTL <= 1 on a packet we would forward */ \
  X(ICMP_UNSUPPORTED, "icmp_unsupported")   /* ICMP type we do not answer or relay */ \
  X(NO_SERVICE, "no_service")               /* new flow to an owned address with no virtual service */ \
  X(NO_CONN, "no_conn")                     /* TCP non-SYN or reply packet without a connection */ \
  X(NO_REAL_SERVER, "no_real_server")       /* service has no server with weight > 0 */ \
  X(NO_LOCAL_ADDRESS, "no_local_address")   /* service has no LIP */ \
  X(LPORT_EXHAUSTED, "lport_exhausted")     /* every lport of every LIP in use by this worker */ \
  X(CONN_TABLE_FULL, "conn_table_full")     /* connection pool or hash full */ \
  X(NO_ROUTE, "no_route")                   /* no route to the destination */ \
  X(NEIGH_UNRESOLVED, "neigh_unresolved")   /* next hop did not answer ARP in time */ \
  X(NEIGH_QUEUE_FULL, "neigh_queue_full")   /* packets awaiting ARP resolution over the bound */ \
  X(TX_FULL, "tx_full")                     /* the port's tx queue refused the packet */ \
  X(MBUF_ALLOC_FAILED, "mbuf_alloc_failed") /* could not allocate a packet we had to generate (or grow one: no headroom for NAT64's larger IPv6 header) */ \
  X(REDIRECT_RING_FULL, "redirect_ring_full") /* hand-off ring to the owning worker is full */ \
  X(ACL_DENIED, "acl_denied")               /* defend: source denied by the global or the service CIDR list */ \
  X(UDP_SOURCE_RATE_LIMITED, "udp_source_rate_limited")   /* defend: the source's UDP token bucket is empty */ \
  X(UDP_SERVICE_RATE_LIMITED, "udp_service_rate_limited") /* defend: the service's UDP token bucket is empty */ \
  X(CONN_RATE_LIMITED, "conn_rate_limited") /* defend: service new-connection rate cap */ \
  X(CONN_LIMIT_REACHED, "conn_limit_reached") /* defend: service concurrent-connection cap */ \
  X(BAD_COOKIE, "bad_cookie")               /* SYNPROXY: ACK whose cookie is forged or older than 2 minutes */ \
  X(SYNPROXY_HOLD_FULL, "synproxy_hold_full") /* SYNPROXY: client segment beyond the bounded hold queue (or no hold slot) */ \
  X(SYNPROXY_HANDSHAKE_PENDING, "synproxy_handshake_pending") /* SYNPROXY: non-ACK client or stray server segment before the server answered */ \
  X(SYNPROXY_SERVER_FAILED, "synproxy_server_failed") /* SYNPROXY: held client segment discarded, server refused or never answered */ \
  X(FRAG_OVERLAP, "frag_overlap")           /* fragments (each one counted) of a set whose pieces overlap or disagree on its end */ \
  X(FRAG_OVERSIZE, "frag_oversize")         /* fragments of a set that would exceed the reassembly size limit (or 65535: IPv4 total length, IPv6 payload length) */ \
  X(FRAG_TIMEOUT, "frag_timeout")           /* fragments of an incomplete set discarded when its timeout ran out */ \
  X(FRAG_TABLE_FULL, "frag_table_full")     /* fragment starting a new set while the reassembly table had no room */ \
  X(FRAG_TOO_MANY, "frag_too_many")         /* fragments of a set with more pieces than the per-datagram limit */ \
  X(FRAG_RATE_LIMITED, "frag_rate_limited") /* fragment over its source's token bucket (fragment policy limit) */ \
  X(FRAG_OUT_FAILED, "frag_out_failed")     /* datagram over the egress MTU that could not be fragmented (no mbufs) */ \
  X(FRAG_HEADER_CHAIN_INCOMPLETE, "frag_header_chain_incomplete") /* IPv6 first fragment without the whole header chain through the TCP/UDP/ICMPv6 header (RFC 7112) */ \
  X(TUNNEL_FRAG_NEEDED, "tunnel_frag_needed") /* TUN: packet + outer header (20 B IPv4, 40 B IPv6) over the egress MTU (frag-needed if DF / Packet Too Big sent first) */ \
  X(EGRESS_MTU_EXCEEDED, "egress_mtu_exceeded") /* FullNAT/NAT: DF packet over the egress port's MTU (ICMP frag-needed sent to its sender) */ \
  X(CLIENT_ADDRESS_BAD_CHECKSUM, "client_address_bad_checksum") /* TCP checksum wrong on a client segment that was to carry TOA or the PROXY header, or be cut at the PROXY stream start (only those are verified; the server would drop it too) */ \
  X(IPV6_MALFORMED, "ipv6_malformed")       /* IPv6: truncated fixed header, version not 6, payload length beyond the frame (or 0: jumbograms); a fragment that is empty, or not the last and not a multiple of 8 bytes */ \
  X(IPV6_EXT_HEADER_MALFORMED, "ipv6_ext_header_malformed") /* IPv6: extension header past the payload, hop-by-hop not first, bad option TLV, more than kIpv6MaxExtHeaders headers or kIpv6MaxExtBytes bytes of them */ \
  X(IPV6_OPTION_UNRECOGNIZED, "ipv6_option_unrecognized") /* IPv6: hop-by-hop/destination option we do not know whose type says discard (RFC 8200 4.2) */ \
  X(IPV6_ROUTING_HEADER, "ipv6_routing_header") /* IPv6: routing header with segments left > 0 (we would be an intermediate hop; type 0 is deprecated, RFC 5095) */ \
  X(IPV6_UNSUPPORTED_NEXT_HEADER, "ipv6_unsupported_next_header") /* IPv6: ESP, AH, No Next Header (59) or another extension header we do not walk */ \
  X(IPV6_BAD_ADDRESS, "ipv6_bad_address")   /* IPv6: source multicast/unspecified/loopback/IPv4-mapped, destination unspecified/loopback/IPv4-mapped (would alias an IPv4 flow) */ \
  X(ICMP6_BAD_CHECKSUM, "icmp6_bad_checksum") /* ICMPv6 to us whose checksum (pseudo-header included) is wrong */ \
  X(ND_INVALID, "nd_invalid")               /* neighbour discovery message failing RFC 4861 7.1 validation (hop limit not 255, code, length, options, multicast or IPv4-mapped target) */ \
  X(ND_NOT_FOR_US, "nd_not_for_us")         /* NS for an address we do not own on that port; NA we did not ask for from off-link */ \
  X(NAT64_ICMP_UNTRANSLATABLE, "nat64_icmp_untranslatable") /* ICMP error about a NAT64 connection with no counterpart in the other family (RFC 7915: e.g. parameter problem, source quench) */ \
  X(HANDOFF_OVER_MTU, "handoff_over_mtu")   /* cluster: a packet for another node's flow whose encapsulation (+20 B) exceeds the egress MTU (pipeline/cluster/handoff.h) */ \
  X(HANDOFF_FOREIGN_SOURCE, "handoff_foreign_source") /* cluster: IPIP / IPv6-in-IPv4 to this node's address from an address that is not another cluster node */ \
  X(HANDOFF_BAD_ENCAPSULATION, "handoff_bad_encapsulation") /* cluster: hand-off packet fragmented, inner header not of the outer's protocol (4: IPv4, 41: IPv6), or encapsulated twice */

// X(ENUM_NAME, "wire_name") — things that happened, for operators and tests.
#define PC_EVENTS(X)                                                        \
  X(RX_PACKETS, "rx_packets")                                               \
  X(TX_PACKETS, "tx_packets")                                               \
  X(ARP_REQUESTS_ANSWERED, "arp_requests_answered")                         \
  X(ARP_REQUESTS_SENT, "arp_requests_sent")                                 \
  X(ARP_REPLIES_LEARNED, "arp_replies_learned")                             \
  X(ICMP_ECHO_ANSWERED, "icmp_echo_answered")                               \
  X(CONNS_CREATED, "conns_created")                                         \
  X(CONNS_EXPIRED, "conns_expired")                                         \
  X(PACKETS_FORWARDED_IN, "packets_forwarded_in")   /* client -> server, translated */ \
  X(PACKETS_FORWARDED_OUT, "packets_forwarded_out") /* server -> client, translated */ \
  X(NEIGH_QUEUED, "neigh_queued")                   /* held while ARP resolves */ \
  X(SNAPSHOTS_ADOPTED, "snapshots_adopted") \
  X(EXCEPTION_PUNTED, "exception_punted")   /* frame for a port address handed to its kernel interface */ \
  X(SYNPROXY_SYN_ANSWERED, "synproxy_syn_answered")         /* cookie SYN-ACK sent, no state kept */ \
  X(SYNPROXY_COOKIES_ACCEPTED, "synproxy_cookies_accepted") /* final ACK with a valid cookie: connection made */ \
  X(SYNPROXY_SERVER_SYNS, "synproxy_server_syns")       /* backend SYN sent (again when the client retransmits) */ \
  X(SYNPROXY_SERVER_HANDSHAKES, "synproxy_server_handshakes") /* server SYN-ACK turned into its ACK, held data released */ \
  X(SYNPROXY_CLIENT_RESETS, "synproxy_client_resets")     /* client reset: server refused or never answered */                                 \
  X(TOA_ADDED, "toa_added")                         /* client address option inserted (pipeline/toa.h) */ \
  X(TOA_NO_ROOM, "toa_no_room")                     /* TOA skipped: option space full or no mbuf headroom */ \
  X(TOA_OVER_MTU, "toa_over_mtu")                   /* TOA skipped: grown packet would exceed the port MTU */ \
  X(TOA_MSS_LOWERED, "toa_mss_lowered")             /* server SYN-ACK MSS lowered by the TOA length */ \
  X(TOA_CLIENT_OPTION_REMOVED, "toa_client_option_removed") /* TOA-kind option (253/254) a client sent, overwritten with NOPs (any FullNAT/NAT connection) */ \
  X(PROXY_SEGMENT_TRIMMED, "proxy_segment_trimmed") /* PROXY: client segment cut back at or before the stream start (bytes before it, a SYN's payload, an urgent pointer) */ \
  X(UOA_ADDED, "uoa_added")                         /* UDP: UOA (client address) put in a datagram toward the server (carriage/uoa.h) */ \
  X(UOA_NO_ROOM, "uoa_no_room")                     /* UOA skipped: IPv4 option space full, IPv6 extension headers, a fragment, or no mbuf headroom */ \
  X(UOA_OVER_MTU, "uoa_over_mtu")                   /* UOA skipped: grown datagram would exceed the port MTU */ \
  X(UOA_CLIENT_OPTION_REMOVED, "uoa_client_option_removed") /* IPv4 option 31 (UOA) a client sent, overwritten with NOPs (any UDP FullNAT connection) */ \
  X(PROXY_DGRAM_ADDED, "proxy_dgram_added")         /* UDP: PROXY v2 DGRAM header put in front of a datagram toward the server (carriage/proxy_dgram.h) */ \
  X(PROXY_DGRAM_SKIPPED, "proxy_dgram_skipped")     /* PROXY v2 DGRAM not added: grown datagram would exceed the port MTU (or a fragment, or no mbuf headroom) */ \
  X(ICMP_ERRORS_TO_CLIENT, "icmp_errors_to_client") /* ICMP error about a conn relayed outward (pipeline/icmp_relay.h) */ \
  X(ICMP_ERRORS_TO_SERVER, "icmp_errors_to_server") /* ICMP error about a conn relayed inward */ \
  X(PERSIST_TEMPLATES_CREATED, "persist_templates_created") /* persistence: a client network got a server (pipeline/persist.h) */ \
  X(PERSIST_TEMPLATE_HITS, "persist_template_hits")   /* persistence: new conn sent to its client network's server */ \
  X(PERSIST_TABLE_FULL, "persist_table_full")         /* persistence: no template slot, conn scheduled without one */ \
  X(FRAG_REASSEMBLED, "frag_reassembled")   /* datagrams rebuilt from fragments (pipeline/defend/reassembly.h) */ \
  X(FRAG_REFRAGMENTED, "frag_refragmented") /* datagrams sent as fragments: IPv4 over the egress MTU, IPv6 rebuilt ones bigger than their biggest fragment */ \
  X(SYNPROXY_AUTO_ENGAGED, "synproxy_auto_engaged")       /* SYNPROXY auto: a service's SYN rate reached its threshold */ \
  X(SYNPROXY_AUTO_DISENGAGED, "synproxy_auto_disengaged") /* SYNPROXY auto: below the threshold for the hold time */ \
  X(TCP_RESETS_FROM_SERVER, "tcp_resets_from_server") /* RST from a real server on a tracked connection, relayed */ \
  X(TCP_RESETS_FROM_CLIENT, "tcp_resets_from_client") /* RST from a client on a tracked connection, relayed */ \
  X(ICMP_FRAG_NEEDED_SENT, "icmp_frag_needed_sent")   /* ICMP fragmentation-needed sent (TUN: to a client; FullNAT/NAT: to the sender) */ \
  X(ICMP6_PACKET_TOO_BIG_SENT, "icmp6_packet_too_big_sent")   /* ICMPv6 Packet Too Big sent to an IPv6 sender whose packet exceeds the egress MTU */ \
  X(MSS_CLAMPED, "mss_clamped")         /* SYN/SYN-ACK MSS lowered to fit the smaller MTU of the client-side and server-side ports */ \
  X(REDIRECTED_OUT, "redirected_out")   /* multi-worker: a reply handed to its owning worker's ring (core/redirect.h) */ \
  X(REDIRECTED_IN, "redirected_in")     /* multi-worker: a packet taken from a ring and processed here */ \
  X(ARP_REPLIES_SHARED, "arp_replies_shared") /* multi-worker: copy of an ARP reply sent to another worker's ring */ \
  X(ND_ADVERTISEMENTS_SHARED, "nd_advertisements_shared") /* multi-worker: copy of an IPv6 neighbour advertisement sent to another worker's ring */ \
  X(FRAG_JOINED, "frag_joined")             /* fragments consumed into the datagrams of frag_reassembled */ \
  X(FRAG_OUT_PIECES, "frag_out_pieces")     /* fragments made from the datagrams of frag_refragmented */ \
  X(ND_SOLICITATIONS_ANSWERED, "nd_solicitations_answered") /* IPv6 NS for an owned address answered with an NA (pipeline/output/nd.h) */ \
  X(ND_SOLICITATIONS_SENT, "nd_solicitations_sent")         /* IPv6 NS sent to resolve a next hop */ \
  X(ND_ADVERTISEMENTS_LEARNED, "nd_advertisements_learned") /* IPv6 NA consumed: its target's MAC learned */ \
  X(ND_ROUTER_MESSAGES_IGNORED, "nd_router_messages_ignored") /* router solicitation/advertisement or redirect consumed unread: we are not a host that autoconfigures */ \
  X(ND_DAD_PROBES_IGNORED, "nd_dad_probes_ignored")         /* NS from :: (duplicate address detection) consumed, not answered, not learned */ \
  X(ICMP6_ECHO_ANSWERED, "icmp6_echo_answered")             /* ICMPv6 echo request to an owned address answered */ \
  X(NAT64_MSS_LOWERED, "nat64_mss_lowered")                 /* NAT64: an IPv4 server's SYN-ACK MSS lowered by 20, the IPv6 header's growth (pipeline/forward/nat64.h) */ \
  X(OWNERSHIP_EXPORTED, "ownership_exported")               /* cluster: a new connection's ownership record put in the worker's export ring (pipeline/cluster/) */ \
  X(OWNERSHIP_EXPORT_OVERFLOW, "ownership_export_overflow") /* cluster: export ring full, the record is lost (the connection is not: other nodes cannot hand its packets back) */ \
  X(FOREIGN_FLOWS_LEARNED, "foreign_flows_learned")         /* cluster: another node's flow put in (or refreshed in) this worker's foreign-flow table */ \
  X(FOREIGN_FLOWS_EVICTED, "foreign_flows_evicted")         /* cluster: oldest foreign flow evicted to make room (table at its bound) */ \
  X(HANDOFF_SENT, "handoff_sent")                           /* cluster: packet of a flow another node owns sent to it encapsulated */ \
  X(HANDOFF_RECEIVED, "handoff_received")                   /* cluster: encapsulated packet from another node decapsulated and processed as received */ \
  X(TAKEOVER_DISCARDED, "takeover_discarded")               /* takeover: received while this worker was held (handed over, or not yet released), freed unread */ \
  X(QUIC_ROUTED_BY_ID, "quic_routed_by_id")   /* QUIC service: new connection sent to the server its connection id names (pipeline/conn/quic_route.h) */ \
  X(QUIC_ID_UNKNOWN, "quic_id_unknown")       /* QUIC service: connection id names no server of the service; scheduled as any new flow */ \
  X(QUIC_MALFORMED, "quic_malformed")         /* QUIC service: datagram without a readable QUIC header (short, DCID length > 20, truncated); scheduled and forwarded, not dropped */ \
  X(SESSION_EVENTS_QUEUED, "session_events_queued") /* session log: a connection's creation or end record put in the worker's ring (pipeline/conn/session_log.h) */ \
  X(SESSION_EVENTS_LOST, "session_events_lost")     /* session log: the worker's ring was full (the exporter fell behind), the record is lost; the connection is not */ \
  X(CLIENT_FLOWS_HANDED_OVER, "client_flows_handed_over") /* multi-worker: a client packet of a NAT or persistent service without a connection here, handed to the worker its client names (conn/client_owner.h) */ \
  X(REASSEMBLED_HANDED_OVER, "reassembled_handed_over")   /* multi-worker: a datagram rebuilt from fragments handed to the worker that owns its connection */ \
  X(CAPTURE_COPIES, "capture_copies")         /* packet capture: a copy (as received or as sent) put in the worker's capture ring (pipeline/capture.h) */ \
  X(CAPTURE_LOST, "capture_lost")             /* packet capture: a copy refused, the worker's capture ring full (the reader is slow, or a burst) */

namespace pc {

enum class DropReason : uint16_t {
#define PC_X(name, wire) name,
  PC_DROP_REASONS(PC_X)
#undef PC_X
  COUNT
};

enum class Event : uint16_t {
#define PC_X(name, wire) name,
  PC_EVENTS(PC_X)
#undef PC_X
  COUNT
};

constexpr const char* kDropReasonNames[] = {
#define PC_X(name, wire) wire,
    PC_DROP_REASONS(PC_X)
#undef PC_X
};

constexpr const char* kEventNames[] = {
#define PC_X(name, wire) wire,
    PC_EVENTS(PC_X)
#undef PC_X
};

constexpr unsigned kDropReasonCount = static_cast<unsigned>(DropReason::COUNT);
constexpr unsigned kEventCount = static_cast<unsigned>(Event::COUNT);

}  // namespace pc
