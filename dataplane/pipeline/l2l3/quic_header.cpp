#include "pipeline/l2l3/quic_header.h"

namespace pc {

namespace {

constexpr uint8_t kLongHeaderBit = 0x80;
constexpr uint32_t kLongHeaderFixedPart = 1 + 4 + 1;  // first byte, version, DCID length

inline uint16_t server_id_at(const uint8_t* cid) {
  return static_cast<uint16_t>(cid[kQuicServerIdOffset] << 8 | cid[kQuicServerIdOffset + 1]);
}

// The long-header packet type bits (0x30) that mean Handshake: 2 in version 1, 3 in version 2.
inline bool is_handshake(uint32_t version, uint8_t first) {
  uint8_t type = (first >> 4) & 3;
  return version == kQuicVersion1 ? type == 2 : type == 3;
}

}  // namespace

QuicIdRead quic_read_server_id(const uint8_t* payload, uint32_t length, uint16_t* server_id) {
  if (length == 0) return QuicIdRead::MALFORMED;
  uint8_t first = payload[0];
  if (!(first & kLongHeaderBit)) {
    if (length < kQuicShortHeaderMin) return QuicIdRead::MALFORMED;
    *server_id = server_id_at(payload + 1);
    return QuicIdRead::SERVER_ID;
  }
  if (length < kLongHeaderFixedPart) return QuicIdRead::MALFORMED;
  uint32_t version = static_cast<uint32_t>(payload[1]) << 24 | static_cast<uint32_t>(payload[2]) << 16 |
                     static_cast<uint32_t>(payload[3]) << 8 | payload[4];
  uint32_t dcid_length = payload[5];
  // The invariants (RFC 8999) allow 255 for other versions; ours cap it at 20.
  bool known_version = version == kQuicVersion1 || version == kQuicVersion2;
  if (known_version && dcid_length > kQuicMaxCidLength) return QuicIdRead::MALFORMED;
  // The SCID length byte follows the DCID: it must be in the datagram too.
  if (length < kLongHeaderFixedPart + dcid_length + 1) return QuicIdRead::MALFORMED;
  if (!known_version || !is_handshake(version, first) || dcid_length < kQuicServerIdEnd) return QuicIdRead::NO_ID;
  *server_id = server_id_at(payload + kLongHeaderFixedPart);
  return QuicIdRead::SERVER_ID;
}

}  // namespace pc
