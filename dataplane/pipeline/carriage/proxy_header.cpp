#include "pipeline/carriage/proxy_header.h"

#include <cstring>
#include <rte_byteorder.h>

namespace pc {

namespace {

constexpr uint8_t kV2Signature[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
constexpr uint8_t kV2ProxyCommand = 0x21;  // version 2, PROXY
constexpr uint8_t kV2TcpOverIpv4 = 0x11;
constexpr uint16_t kV2Ipv4AddressLength = 12;

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

uint32_t write_text(uint8_t* out, const char* text) {
  uint32_t n = static_cast<uint32_t>(std::strlen(text));
  std::memcpy(out, text, n);
  return n;
}

}  // namespace

uint32_t proxy_header_write(uint8_t* out, ClientAddress mode, const IpAddr& client, uint16_t cport,
                            const IpAddr& virtual_addr, uint16_t vport) {
  const uint32_t caddr = ip_v4(client), vaddr = ip_v4(virtual_addr);
  if (mode == ClientAddress::PROXY_V2) {
    std::memcpy(out, kV2Signature, sizeof kV2Signature);
    out[12] = kV2ProxyCommand;
    out[13] = kV2TcpOverIpv4;
    uint16_t length = rte_cpu_to_be_16(kV2Ipv4AddressLength);
    std::memcpy(out + 14, &length, 2);
    std::memcpy(out + 16, &caddr, 4);
    std::memcpy(out + 20, &vaddr, 4);
    std::memcpy(out + 24, &cport, 2);
    std::memcpy(out + 26, &vport, 2);
    return 16 + kV2Ipv4AddressLength;
  }
  uint32_t n = write_text(out, "PROXY TCP4 ");
  n += write_ipv4_text(out + n, caddr);
  out[n++] = ' ';
  n += write_ipv4_text(out + n, vaddr);
  out[n++] = ' ';
  n += write_decimal(out + n, rte_be_to_cpu_16(cport));
  out[n++] = ' ';
  n += write_decimal(out + n, rte_be_to_cpu_16(vport));
  out[n++] = '\r';
  out[n++] = '\n';
  return n;  // at most 11 + 15 + 1 + 15 + 1 + 5 + 1 + 5 + 2 = 56
}

}  // namespace pc
