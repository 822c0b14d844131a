"""What the lab's bounded flood senders share: the Internet checksum and the paced,
time- and count-bounded send loop (imported by udp-flood.py, frag-flood.py, syn-flood.py)."""
import struct
import time
from typing import Callable


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
