#!/usr/bin/env python3
"""Bounded frame capture for e2e tests, run inside a lab namespace (ip netns exec).

Usage: e2e-capture.py IFACE MAX_SECONDS MAX_FRAMES
Prints "ready" once the raw socket is bound, then captures IPv4 TCP frames seen on
IFACE (both directions) until stdin reaches EOF, MAX_SECONDS pass or MAX_FRAMES are
kept, and prints one JSON line: {"frames": ["<hex>", ...]}. Needs only python3 (raw
AF_PACKET socket, no tcpdump); the test decodes the frames with test/support/packet.ts.
"""
import json
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
IPV4 = b"\x08\x00"
TCP = 6


def main() -> None:
    iface, max_seconds, max_frames = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    print("ready", flush=True)
    frames = []
    deadline = time.monotonic() + max_seconds
    watching_stdin = True
    while len(frames) < max_frames:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select([sock] + ([sys.stdin] if watching_stdin else []), [], [], left)
        if sys.stdin in readable and not sys.stdin.readline():
            break  # the test closed stdin: done
        if sock in readable:
            frame = sock.recv(65535)
            if len(frame) >= 34 and frame[12:14] == IPV4 and frame[23] == TCP:
                frames.append(frame.hex())
    sock.close()
    print(json.dumps({"frames": frames}), flush=True)


main()
