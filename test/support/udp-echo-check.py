#!/usr/bin/env python3
"""Legitimate UDP request/response check for flood tests and benchmarks.

Usage: udp-echo-check.py <vip> <port> <count> <pps> <timeout_s>
Sends <count> numbered requests at <pps> from one socket and counts the echoes that
come back (each request is answered once; duplicates are ignored), waiting at most
<timeout_s> after the last request. An IPv6 <vip> is asked over IPv6. Prints one JSON line: {"sent", "answered", "seconds"}.
"""
import json
import select
import socket
import sys
import time


def main() -> None:
    vip, port, count, pps, timeout_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    sock = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect((vip, port))
    answered = set()
    started = time.monotonic()
    sent = 0
    deadline = None
    while True:
        now = time.monotonic()
        if sent < count and now >= started + sent / pps:
            sock.send(b"legit-%08d" % sent)
            sent += 1
            if sent == count:
                deadline = time.monotonic() + timeout_s
            continue
        if deadline is not None and (now >= deadline or len(answered) == count):
            break
        wait = (started + sent / pps - now) if sent < count else (deadline - now)
        ready, _, _ = select.select([sock], [], [], max(0.0, min(wait, 0.05)))
        if ready:
            try:
                data = sock.recv(2048)
            except OSError:
                continue  # an ICMP error for an earlier request
            if data.startswith(b"legit-") and len(data) >= 14:
                answered.add(data[:14])
    print(json.dumps({"sent": sent, "answered": len(answered), "seconds": round(time.monotonic() - started, 3)}))


if __name__ == "__main__":
    main()
