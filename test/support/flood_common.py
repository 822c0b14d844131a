"""What the lab's bounded flood senders share: the Internet checksum, the IPv6 header and
pseudo-header, the sources drawn from one /64, and the paced, time- and count-bounded send
loop (imported by udp-flood.py, frag-flood.py, syn-flood.py)."""
import ipaddress
import random
import socket
import struct
import time
from typing import Callable

IPV6_HOP_LIMIT = 64


def is_ipv6(address: str) -> bool:
    return ":" in address


def ipv6_header(src: bytes, dst: bytes, next_header: int, payload_length: int) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, payload_length, next_header, IPV6_HOP_LIMIT, src, dst)


def ipv6_pseudo_header(src: bytes, dst: bytes, next_header: int, length: int) -> bytes:
    return src + dst + struct.pack("!IxxxB", length, next_header)


def sources_in_prefix(prefix: str, count: int, rng: random.Random) -> list:
    """count distinct addresses (16 bytes each) in an IPv6 prefix of length 64 or longer, none of
    them the prefix's first 256 (where the lab's own hosts and the gateway live: ::1-::254)."""
    network = ipaddress.IPv6Network(prefix, strict=True)
    if network.prefixlen < 64:
        raise SystemExit(f"source prefix {prefix}: at most a /64, so every source sits in one /64")
    if count < 1 or count > network.num_addresses - 256:
        raise SystemExit(f"source prefix {prefix}: cannot hold {count} sources")
    base = int(network.network_address)
    chosen = set()
    while len(chosen) < count:
        chosen.add(base + 256 + rng.randrange(network.num_addresses - 256))
    return [ipaddress.IPv6Address(value).packed for value in sorted(chosen)]


def raw_socket(family_ipv6: bool) -> socket.socket:
    """A raw socket that sends whole IP packets (IPPROTO_RAW: header included, in both families)."""
    return socket.socket(socket.AF_INET6 if family_ipv6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def send_bounded(send: Callable[[int], None], seconds: float, max_packets: int, pps: int = 0,
                 check_every: int = 256) -> tuple:
    """Calls send(n) for n = 0, 1, ... until max_packets were sent or seconds passed, paced to
    pps when it is not 0. A full socket buffer (OSError) is waited out, never counted as sent.
    Returns (sent, elapsed_seconds)."""
    sent = 0
    started = time.monotonic()
    deadline = started + seconds
    while sent < max_packets:
        # The clock is read every check_every packets: cheap, and the bound still holds to a few ms.
        if sent % check_every == 0:
            now = time.monotonic()
            if now >= deadline:
                break
            ahead = sent / pps - (now - started) if pps else 0
            if ahead > 0:
                time.sleep(ahead)
        try:
            send(sent)
            sent += 1
        except OSError:  # BlockingIOError included: let the kernel drain the buffer
            time.sleep(0.0001)
            if time.monotonic() >= deadline:
                break
    return sent, time.monotonic() - started
