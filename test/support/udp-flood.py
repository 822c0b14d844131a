#!/usr/bin/env python3
"""Bounded UDP flood for the lab's attacker namespace (defence e2e tests, bench/flood.ts).

Usage: udp-flood.py <vip> <port> <seconds> <max_packets> [<pps> [<size>]]
Sends <size>-byte datagrams (default 64) from the namespace's own address as fast as one
socket can (pps 0) or paced to <pps>, stops by itself after <seconds> or <max_packets>
datagrams, whichever first, and prints one JSON line: {"sent", "seconds", "pps", "frames"}.
Above 1472 bytes (a fragment flood) the datagrams go out as IPv4 fragments built here on a
raw socket, so what leaves the attacker does not depend on its kernel's offloads. (The
gateway's af_packet port still delivers them reassembled: docs/benchmarks.md, Flood.)
Run inside the attacker namespace only.
"""
import json
import socket
import struct
import sys

from flood_common import checksum, send_bounded

MTU_PAYLOAD = 1480  # IPv4 payload per fragment at MTU 1500 (a multiple of 8)
FRAGMENT_IDS = 512  # distinct datagrams built once and sent in a loop


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


def main() -> None:
    vip, port, seconds, max_packets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    pps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    payload = (b"flood" * (size // 5 + 1))[:size]
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
