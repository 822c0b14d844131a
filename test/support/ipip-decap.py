#!/usr/bin/env python3
"""What a TUN (-i) real server's kernel does with `tunl0`, in user space, for kernels
built without CONFIG_NET_IPIP (like this lab's): receives IPIP packets (IP protocol 4)
on a raw socket, strips the outer IPv4 header and hands the inner packet to the
stack through a tun device that holds the VIP, so the server's TCP answers the
client directly. Run inside a real server's namespace:

    ipip-decap.py <tun-name> <vip>

Prints "ipip-decap ready" once the device is up; runs until killed. Counts nothing,
forwards nothing else: the outer packet's only job is to get here.
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4


def main() -> None:
    name, vip = sys.argv[1], sys.argv[2]
    tun = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    for argv in (['ip', 'link', 'set', name, 'up'], ['ip', 'address', 'add', f'{vip}/32', 'dev', name],
                 ['sysctl', '-q', '-w', f'net.ipv4.conf.{name}.rp_filter=0']):
        subprocess.run(argv, check=True)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    print('ipip-decap ready', flush=True)
    while True:
        packet = raw.recv(65535)  # raw IPv4 sockets deliver the outer header too
        outer_len = (packet[0] & 0x0F) * 4
        inner = packet[outer_len:]
        if len(inner) >= 20 and inner[0] >> 4 == 4:
            os.write(tun, inner)


if __name__ == '__main__':
    main()
