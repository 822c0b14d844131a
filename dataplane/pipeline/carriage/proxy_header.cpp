#include "pipeline/carriage/proxy_header.h"

#include <cstring>
#include <rte_byteorder.h>

namespace pc {

namespace {

constexpr uint8_t kV2Signature[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
constexpr uint8_t kV2ProxyCommand = 0x21;  // version 2, PROXY
constexpr uint8_t kV2FamilyIpv4 = 0x10;  // AF_INET, high nibble
constexpr uint8_t kV2FamilyIpv6 = 0x20;  // AF_INET6
constexpr uint8_t kV2Stream = 0x01;      // TCP, low nibble
constexpr uint8_t kV2Dgram = 0x02;       // UDP
constexpr uint16_t kV2Ipv4AddressLength = 12;  // 4 + 4 + 2 + 2
constexpr uint16_t kV2Ipv6AddressLength = 36;  // 16 + 16 + 2 + 2

// Decimal digits of value without leading zeros (snprintf is not for the packet path).
uint32_t write_decimal(uint8_t* out, uint32_t value) {
  uint8_t digits[10];
  uint32_t n = 0;
  do digits[n++] = static_cast<uint8_t>('0' + value % 10), value /= 10;
  while (value);
  for (uint32_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
  return n;
}

uint32_t write_ipv4_text(uint8_t* out, uint32_t addr_network) {
  uint32_t host = rte_be_to_cpu_32(addr_network), n = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    n += write_decimal(out + n, (host >> shift) & 0xff);
    if (shift) out[n++] = '.';
  }
  return n;
}

// RFC 5952 text: lower-case hex groups without leading zeros, the longest run of two or
// more zero groups (the first of equal runs) written "::", a lone zero group as "0".
uint32_t write_ipv6_text(uint8_t* out, const uint8_t* bytes) {
  uint16_t groups[8];
  for (int i = 0; i < 8; i++) groups[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  int best_at = -1, best_len = 1;  // a run must beat 1 group to be compressed
  for (int i = 0; i < 8;) {
    if (groups[i]) {
      i++;
      continue;
    }
    int run = i;
    while (run < 8 && !groups[run]) run++;
    if (run - i > best_len) best_at = i, best_len = run - i;
    i = run;
  }
  static const char kHex[] = "0123456789abcdef";
  uint32_t n = 0;
  for (int i = 0; i < 8; i++) {
    if (i == best_at) {
      out[n++] = ':', out[n++] = ':';
      i += best_len - 1;
      continue;
    }
    if (i && i != best_at + best_len) out[n++] = ':';  // no separator right after "::"
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      uint8_t digit = (groups[i] >> shift) & 0xf;
      if (digit || started || shift == 0) out[n++] = static_cast<uint8_t>(kHex[digit]), started = true;
    }
  }
  return n;  // at most 39
}

uint32_t write_address_text(uint8_t* out, const IpAddr& addr) {
  return ip_is_v4(addr) ? write_ipv4_text(out, ip_v4(addr)) : write_ipv6_text(out, addr.bytes);
}

uint32_t write_text(uint8_t* out, const char* text) {
  uint32_t n = static_cast<uint32_t>(std::strlen(text));
  std::memcpy(out, text, n);
  return n;
}

}  // namespace

uint32_t proxy_header_write(uint8_t* out, ClientAddress mode, const IpAddr& client, uint16_t cport,
                            const IpAddr& virtual_addr, uint16_t vport, ProxyTransport transport) {
  // One family per connection on this path: the client's (a NAT64 VIP is IPv6 like its client).
  const bool v4 = ip_is_v4(client);
  if (mode == ClientAddress::PROXY_V2) {
    const uint16_t address_length = v4 ? kV2Ipv4AddressLength : kV2Ipv6AddressLength;
    std::memcpy(out, kV2Signature, sizeof kV2Signature);
    out[12] = kV2ProxyCommand;
    out[13] = static_cast<uint8_t>((v4 ? kV2FamilyIpv4 : kV2FamilyIpv6) |
                                   (transport == ProxyTransport::DGRAM ? kV2Dgram : kV2Stream));
    uint16_t length = rte_cpu_to_be_16(address_length);
    std::memcpy(out + 14, &length, 2);
    uint8_t* at = out + 16;
    if (v4) {
      const uint32_t caddr = ip_v4(client), vaddr = ip_v4(virtual_addr);
      std::memcpy(at, &caddr, 4);
      std::memcpy(at + 4, &vaddr, 4);
      at += 8;
    } else {
      std::memcpy(at, client.bytes, 16);
      std::memcpy(at + 16, virtual_addr.bytes, 16);
      at += 32;
    }
    std::memcpy(at, &cport, 2);
    std::memcpy(at + 2, &vport, 2);
    return 16u + address_length;  // 28 or 52
  }
  uint32_t n = write_text(out, v4 ? "PROXY TCP4 " : "PROXY TCP6 ");
  n += write_address_text(out + n, client);
  out[n++] = ' ';
  n += write_address_text(out + n, virtual_addr);
  out[n++] = ' ';
  n += write_decimal(out + n, rte_be_to_cpu_16(cport));
  out[n++] = ' ';
  n += write_decimal(out + n, rte_be_to_cpu_16(vport));
  out[n++] = '\r';
  out[n++] = '\n';
  return n;  // at most 11 + 39 + 1 + 39 + 1 + 5 + 1 + 5 + 2 = 104 (TCP4: 56)
}

}  // namespace pc
