#include "core/port_mtu.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <rte_errno.h>
#include "core/ports.h"

namespace pc {

namespace {

// net_af_packet (TPACKET_V2) facts, from the PMD and the kernel's tpacket_rcv:
// - a received frame starts 66 bytes into its ring slot (tpacket2 header, sockaddr_ll,
//   padding that 16-aligns the IP header); a longer frame is silently truncated;
constexpr uint32_t kAfPacketFrameOffset = 66;
// - its rx queue setup refuses a pool whose mbufs hold less than slot − 32 bytes;
constexpr uint32_t kAfPacketSlotHeader = 32;
// - it reads slot i at i × framesz, so a block (a whole number of pages, for the kernel)
//   must be a whole number of slots, or every slot after the first block is misread;
// - its defaults: 2048-byte slots, 512 of them, one page per block.
constexpr uint32_t kAfPacketDefaultSlot = 2048;
constexpr uint32_t kAfPacketDefaultSlots = 512;
// Jumbo slots are rounded up to 1 KiB, which keeps the block (lcm of slot and page) small:
// 9216-byte slots in 36 KiB blocks for MTU 9000.
constexpr uint32_t kAfPacketJumboSlotAlign = 1024;

bool is_af_packet(const std::string& device) {
  return device.rfind("net_af_packet", 0) == 0 || device.rfind("eth_af_packet", 0) == 0;
}

// An exception path's tap: DPDK 22.11's tap PMD reports a 1522-byte max_rx_pktlen whatever the
// kernel interface takes, so the ethdev layer refuses any MTU over 1504 (a cluster's node link
// needs room for the 20-byte hand-off header).
bool is_tap(const std::string& device) {
  return device.rfind("net_tap", 0) == 0;
}

// The value of key=value in a device string ("net_af_packet0,iface=x,framesz=4096"); -1 if absent.
long devarg(const std::string& device, const char* key) {
  std::string needle = std::string(",") + key + "=";
  size_t at = device.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtol(device.c_str() + at + needle.size(), nullptr, 10);
}

uint32_t frame_bytes(const PortSpec& spec) { return spec.mtu + kFrameOverheadBytes; }

uint32_t af_packet_slot_needed(const PortSpec& spec) { return kAfPacketFrameOffset + frame_bytes(spec); }

// The slot we choose when the operator sets none: the PMD default while it fits.
uint32_t af_packet_slot_ours(const PortSpec& spec) {
  uint32_t needed = af_packet_slot_needed(spec);
  if (needed <= kAfPacketDefaultSlot) return kAfPacketDefaultSlot;
  return (needed + kAfPacketJumboSlotAlign - 1) / kAfPacketJumboSlotAlign * kAfPacketJumboSlotAlign;
}

// The slot size the probed device will use: the operator's framesz or ours.
uint32_t af_packet_slot(const PortSpec& spec) {
  long given = devarg(spec.device, "framesz");
  return given > 0 ? static_cast<uint32_t>(given) : af_packet_slot_ours(spec);
}

uint32_t page_bytes() {
  long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<uint32_t>(page) : 4096;
}

uint32_t gcd(uint32_t a, uint32_t b) { return b ? gcd(b, a % b) : a; }

std::string field(const PortSpec& spec, const char* name) {
  return "ports[" + std::to_string(spec.index) + "]." + name;
}

Status mtu_error(const PortSpec& spec, const std::string& why) {
  return Status::Error("PORT_FAILED", field(spec, "mtu") + ": " + std::to_string(spec.mtu) + " cannot be honoured by port \"" +
                                          spec.name + "\" (device \"" + spec.device + "\"): " + why);
}

// What the PMD's own mtu_set does, without the ethdev layer's check against the 1518-byte
// max_rx_pktlen the af_packet PMD of DPDK 22.11 reports whatever its slot size.
int set_kernel_mtu(uint32_t if_index, uint16_t mtu) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (!if_indextoname(if_index, ifr.ifr_name)) return errno;
  ifr.ifr_mtu = mtu;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return errno;
  int rc = ioctl(s, SIOCSIFMTU, &ifr) == 0 ? 0 : errno;
  close(s);
  return rc;
}

}  // namespace

Status port_rx_buffer_bytes(const PortSpec& spec, uint32_t* bytes) {
  uint32_t need = frame_bytes(spec);
  if (spec.device != "ring" && is_af_packet(spec.device)) {
    uint32_t slot = af_packet_slot(spec);
    if (slot < af_packet_slot_needed(spec))
      return mtu_error(spec, "af_packet frames of " + std::to_string(frame_bytes(spec)) + " bytes need framesz >= " +
                                 std::to_string(af_packet_slot_needed(spec)) + " (the frame starts " +
                                 std::to_string(kAfPacketFrameOffset) + " bytes into its slot), the device sets framesz=" +
                                 std::to_string(slot) + " (raise framesz, or drop it and it is sized for the MTU)");
    long block = devarg(spec.device, "blocksz");
    if (block > 0 && devarg(spec.device, "framesz") > 0 && block % static_cast<long>(slot) != 0)
      return Status::Error("PORT_FAILED", field(spec, "device") + ": \"" + spec.device + "\": blocksz=" +
                                              std::to_string(block) + " is not a multiple of framesz=" + std::to_string(slot) +
                                              " (the af_packet PMD reads slot i at i x framesz: slots after the first block would be misread)");
    if (slot - kAfPacketSlotHeader > need) need = slot - kAfPacketSlotHeader;
  }
  if (need < kDefaultRxBufferBytes) need = kDefaultRxBufferBytes;
  need = (need + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE;
  if (need + RTE_PKTMBUF_HEADROOM > UINT16_MAX)
    return Status::Error("PORT_FAILED", field(spec, "device") + ": \"" + spec.device + "\" needs receive buffers of " +
                                            std::to_string(need) + " bytes, more than an mbuf holds (" +
                                            std::to_string(UINT16_MAX - RTE_PKTMBUF_HEADROOM) + ")");
  *bytes = need;
  return Status::Ok();
}

std::string port_device_args(const PortSpec& spec, uint16_t queues) {
  std::string device = spec.device;
  if (!is_af_packet(device)) return device;
  if (queues > 1 && devarg(device, "qpairs") < 0) device += ",qpairs=" + std::to_string(queues);
  bool operator_sized = devarg(device, "framesz") > 0 || devarg(device, "blocksz") > 0 || devarg(device, "framecnt") > 0;
  uint32_t slot = af_packet_slot_ours(spec);
  if (operator_sized || slot == kAfPacketDefaultSlot) return device;
  // A block is a whole number of pages and of slots; the slot count a whole number of blocks.
  uint32_t page = page_bytes();
  uint32_t block = slot / gcd(slot, page) * page;
  uint32_t per_block = block / slot;
  uint32_t slots = (kAfPacketDefaultSlots + per_block - 1) / per_block * per_block;
  return device + ",blocksz=" + std::to_string(block) + ",framesz=" + std::to_string(slot) +
         ",framecnt=" + std::to_string(slots);
}

Status port_set_mtu(const PortSpec& spec, uint16_t port_id, const rte_eth_dev_info& info) {
  int rc = rte_eth_dev_set_mtu(port_id, spec.mtu);
  if (rc == 0) return Status::Ok();
  bool too_big_for_ethdev = frame_bytes(spec) > info.max_rx_pktlen;
  if (rc == -ENOTSUP) {
    // No MTU control (ring ports): fine as long as frames that big come through.
    if (!too_big_for_ethdev) return Status::Ok();
    return mtu_error(spec, "the driver cannot change its MTU and takes frames up to " + std::to_string(info.max_rx_pktlen) +
                               " bytes");
  }
  if (rc == -EINVAL && too_big_for_ethdev && (is_af_packet(spec.device) || is_tap(spec.device))) {
    // af_packet: the slot was checked against the MTU before the probe (port_rx_buffer_bytes).
    // tap: it reads into the pool's mbufs, which hold the largest port's frame.
    int err = set_kernel_mtu(info.if_index, spec.mtu);
    if (err == 0) return Status::Ok();
    return mtu_error(spec, "setting the MTU of its kernel interface (SIOCSIFMTU) failed: " + std::string(strerror(err)));
  }
  std::string why = "rte_eth_dev_set_mtu: " + std::string(rte_strerror(rc < 0 ? -rc : rc));
  if (too_big_for_ethdev) why += " (the driver takes frames up to " + std::to_string(info.max_rx_pktlen) + " bytes)";
  else if (spec.mtu > info.max_mtu || spec.mtu < info.min_mtu)
    why += " (the driver allows MTU " + std::to_string(info.min_mtu) + ".." + std::to_string(info.max_mtu) + ")";
  return mtu_error(spec, why);
}

}  // namespace pc
