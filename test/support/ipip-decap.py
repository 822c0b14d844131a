#!/usr/bin/env python3
"""What a TUN (-i) real server's kernel does with `tunl0` (IPIP) or an ip6tnl device
(IPv6-in-IPv6), in user space, for kernels built without CONFIG_NET_IPIP and
CONFIG_IPV6_TUNNEL (like this lab's): receives tunnelled packets (IPv4 protocol 4, or
IPv6 next header 41 when the VIP is IPv6) on a raw socket, strips the outer header and
hands the inner packet to the stack through a tun device that holds the VIP, so the
server's TCP answers the client directly. Run inside a real server's namespace:

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
IPPROTO_IPV6 = 41


def main() -> None:
    name, vip = sys.argv[1], sys.argv[2]
    ipv6 = ':' in vip
    tun = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    if ipv6:
        # nodad: the VIP is on every server (and the gateway) on purpose; no link-local address
        # needed, the device only ever receives.
        setup = [['sysctl', '-q', '-w', f'net.ipv6.conf.{name}.addr_gen_mode=1'],
                 ['ip', 'link', 'set', name, 'up'], ['ip', '-6', 'address', 'add', f'{vip}/128', 'dev', name, 'nodad']]
    else:
        setup = [['ip', 'link', 'set', name, 'up'], ['ip', 'address', 'add', f'{vip}/32', 'dev', name],
                 ['sysctl', '-q', '-w', f'net.ipv4.conf.{name}.rp_filter=0']]
    for argv in setup:
        subprocess.run(argv, check=True)
    raw = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_RAW,
                        IPPROTO_IPV6 if ipv6 else IPPROTO_IPIP)
    print('ipip-decap ready', flush=True)
    while True:
        packet = raw.recv(65535)
        if ipv6:
            inner = packet  # raw IPv6 sockets deliver the payload only: the inner packet
            if len(inner) >= 40 and inner[0] >> 4 == 6:
                os.write(tun, inner)
        else:
            outer_len = (packet[0] & 0x0F) * 4  # raw IPv4 sockets deliver the outer header too
            inner = packet[outer_len:]
            if len(inner) >= 20 and inner[0] >> 4 == 4:
                os.write(tun, inner)


if __name__ == '__main__':
    main()
