// The part of a QUIC header (RFC 9000 §17, invariants RFC 8999) a load balancer reads: the
// server id a QUIC service's servers write into the connection ids they issue. Layout
// (docs/schedulers.md, "QUIC"): byte 0 of the connection id is the server's own (QUIC-LB's
// config rotation / length bits), bytes 1-2 are the server's quic_id, big-endian; the rest
// is the server's (nonce). Pure parsing over the UDP payload, bounds-checked; no state.
#pragma once
#include <cstdint>

namespace pc {

enum class QuicIdRead : uint8_t {
  SERVER_ID,       // *server_id = the id in a connection id the server chose (short header, Handshake)
  NO_ID,           // Initial / 0-RTT (the client picked the DCID), an unknown version, version
                   // negotiation: no server id to read, the table and the scheduler decide
  MALFORMED,       // not a QUIC header we can read: too short, DCID length > 20, truncated
};

// Connection ids hold at most 20 bytes in QUIC version 1 and 2 (RFC 9000 §17.2).
constexpr uint32_t kQuicMaxCidLength = 20;
// The server id sits at bytes 1-2 of the connection id: a shorter id carries none.
constexpr uint32_t kQuicServerIdOffset = 1;
constexpr uint32_t kQuicServerIdEnd = 3;
// A short-header packet is at least: first byte, a connection id holding the server id, and the
// 4 + 16 bytes header protection samples after the packet number's offset (RFC 9001 §5.4.2).
constexpr uint32_t kQuicShortHeaderMin = 1 + kQuicServerIdEnd + 4 + 16;

constexpr uint32_t kQuicVersion1 = 0x00000001;  // RFC 9000
constexpr uint32_t kQuicVersion2 = 0x6b3343cf;  // RFC 9369 (its long-header types are renumbered)

// payload/length: the UDP payload. Short header: the id at bytes 1-2 of the DCID (its length is
// the server's; the gateway needs only those bytes). Long header, version 1 or 2: the DCID of a
// Handshake packet (the server's choice since its first Initial); Initial and 0-RTT carry the
// client's random DCID and are NO_ID. The fixed bit (0x40) is not checked: RFC 9287
// lets a peer grease it.
QuicIdRead quic_read_server_id(const uint8_t* payload, uint32_t length, uint16_t* server_id);

}  // namespace pc
