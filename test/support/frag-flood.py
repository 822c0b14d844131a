#!/usr/bin/env python3
"""Bounded IPv4 fragment flood for the lab's attacker namespace (fragment e2e test).

Usage: frag-flood.py <vip> <port> <seconds> <max_packets> [<pps>]
Sends first fragments (MF set, offset 0, a fresh IP id each) of UDP datagrams that are
never completed, from the namespace's own address, through a raw socket (IP_HDRINCL),
as fast as one socket can (or paced to <pps>). Stops by itself after <seconds> or
<max_packets>, whichever first, and prints one JSON line: {"sent", "seconds", "pps"}.
Needs root (raw socket); run inside the attacker namespace only.
"""
import json
import socket
import struct
import sys

from flood_common import send_bounded

FRAGMENT_PAYLOAD = 1000  # bytes after the IP header; a multiple of 8 (not the last fragment)


def fragment(vip: bytes, port: int, ident: int) -> bytes:
    udp = struct.pack("!HHHH", 40000 + ident % 20000, port, 8 + 2 * FRAGMENT_PAYLOAD, 0)
    payload = udp + b"F" * (FRAGMENT_PAYLOAD - len(udp))
    # Source 0.0.0.0 and checksum 0: the kernel fills both in for IP_HDRINCL sockets.
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x2000, 64, socket.IPPROTO_UDP, 0,
                         b"\0\0\0\0", vip)
    return header + payload


def main() -> None:
    vip, port, seconds, max_packets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    pps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    target = socket.inet_aton(vip)
    sent, elapsed = send_bounded(lambda n: sock.sendto(fragment(target, port, 1 + n % 65535), (vip, 0)),
                                 seconds, max_packets, pps, check_every=64)
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 3), "pps": round(sent / elapsed) if elapsed else 0}))


if __name__ == "__main__":
    main()
