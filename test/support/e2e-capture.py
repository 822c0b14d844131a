#!/usr/bin/env python3
"""Bounded frame capture for e2e tests, run inside a lab namespace (ip netns exec).

Usage: e2e-capture.py IFACE MAX_SECONDS MAX_FRAMES [MODE]
Prints "ready" once the raw socket is bound, then captures frames seen on IFACE (both
directions) until stdin reaches EOF, MAX_SECONDS pass or MAX_FRAMES are kept, and prints
one JSON line. Needs only python3 (raw AF_PACKET socket, no tcpdump).
  MODE tcp4 (default): IPv4 TCP frames as hex, {"frames": ["<hex>", ...]}; the test decodes
       them with test/support/packet.ts.
  MODE decode: every IPv4 and IPv6 frame, decoded here (e2e_capture_decode.py), as
       {"packets": [{...}, ...]}: IPv6 extension headers walked, TCP options (TOA kind 254
       of length 8 or 20), UDP, ICMP and ICMPv6 (quoted headers of errors), checksums checked.
"""
import json
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
IPV4 = b"\x08\x00"
TCP = 6
SO_RCVBUFFORCE = 33  # socket.SO_RCVBUFFORCE is missing from older Pythons
RECEIVE_BUFFER_BYTES = 32 * 1024 * 1024


def keep_tcp4(frame: bytes):
    return frame.hex() if len(frame) >= 34 and frame[12:14] == IPV4 and frame[23] == TCP else None


def main() -> None:
    iface, max_seconds, max_frames = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "tcp4"
    if mode == "decode":
        from e2e_capture_decode import decode_frame  # beside this script (sys.path[0])
        keep, key = decode_frame, "packets"
    elif mode == "tcp4":
        keep, key = keep_tcp4, "frames"
    else:
        raise SystemExit(f"unknown mode {mode}: tcp4 or decode")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    # A burst (a bounded flood) must not overflow the default ~200 KiB queue while frames are
    # decoded one by one: root may force a larger one.
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
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
            frame, address = sock.recvfrom(65535)
            kept = keep(frame)
            if kept is not None:
                if mode == "decode":
                    kept["outgoing"] = address[2] == socket.PACKET_OUTGOING
                frames.append(kept)
    sock.close()
    print(json.dumps({key: frames}), flush=True)


main()
