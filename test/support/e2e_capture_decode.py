"""Decodes one captured Ethernet frame (IPv4 or IPv6) into the JSON record e2e-capture.py
prints in its `decode` mode and test/support/e2e-capture.ts types as CapturedPacket.

Why in Python: the capture already runs here, and the e2e tests then need no second codec
for IPv6 on the TypeScript side. Checksums are verified (IPv4 header, TCP/UDP/ICMPv6 over
their pseudo-headers) so a test can tell a wrong rewrite from a right one. IPv6 extension
headers (hop-by-hop, routing, destination options, fragment, AH) are walked with every
length checked; a later fragment or a header that does not fit ends the walk.
"""
import socket
import struct

from flood_common import checksum

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
HOP_BY_HOP, ROUTING, FRAGMENT, DESTINATION_OPTIONS, AUTHENTICATION = 0, 43, 44, 60, 51
PAYLOAD_HEAD = 128  # bytes of TCP/UDP payload kept as hex (a PROXY v2 header over IPv6 is 52)
TCP_FLAG_NAMES = "FSRPAUEC"
TOA_KIND = 254
ICMPV6_ERRORS = (1, 2, 3, 4)
ICMPV4_ERRORS = (3, 4, 5, 11, 12)


def ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, protocol, length)
    return src + dst + struct.pack("!IxxxB", length, protocol)


def tcp_options(data: bytes) -> tuple:
    """(options, mss, toa) walking the option area as Linux does: stop at end-of-list or at a
    length that does not fit. TOA kind 254: length 8 carries an IPv4 address, 20 an IPv6 one."""
    options, mss, toa = [], None, None
    i = 0
    while i < len(data):
        kind = data[i]
        if kind == 0:
            options.append({"kind": 0, "length": 1, "data": ""})
            break
        if kind == 1:
            options.append({"kind": 1, "length": 1, "data": ""})
            i += 1
            continue
        if i + 1 >= len(data) or data[i + 1] < 2 or i + data[i + 1] > len(data):
            options.append({"kind": kind, "length": None, "data": data[i:].hex(), "malformed": True})
            break
        length = data[i + 1]
        body = data[i + 2:i + length]
        options.append({"kind": kind, "length": length, "data": body.hex()})
        if kind == 2 and length == 4 and mss is None:
            mss = struct.unpack("!H", body)[0]
        if kind == TOA_KIND and length in (8, 20) and toa is None:
            toa = {"port": struct.unpack("!H", body[:2])[0], "address": ip_text(body[2:])}
        i += length
    return options, mss, toa


def decode_tcp(segment: bytes, pseudo: bytes, whole: bool) -> dict:
    if len(segment) < 20:
        return {"truncated": True}
    sport, dport, seq, ack, offset_byte, flags, window, _, urgent = struct.unpack("!HHIIBBHHH", segment[:20])
    header_length = (offset_byte >> 4) * 4
    if header_length < 20 or header_length > len(segment):
        return {"srcPort": sport, "dstPort": dport, "malformed": True}
    options, mss, toa = tcp_options(segment[20:header_length])
    payload = segment[header_length:]
    record = {
        "srcPort": sport, "dstPort": dport, "seq": seq, "ack": ack, "window": window, "urgent": urgent,
        "flags": flags, "flagNames": "".join(n for bit, n in enumerate(TCP_FLAG_NAMES) if flags & (1 << bit)),
        "headerLength": header_length, "options": options, "mss": mss, "toa": toa,
        "payloadLength": len(payload), "payloadHead": payload[:PAYLOAD_HEAD].hex(),
        "checksumOk": checksum(pseudo + segment) == 0 if whole else None,
    }
    return record


def decode_udp(datagram: bytes, pseudo: bytes, whole: bool, ipv6: bool) -> dict:
    if len(datagram) < 8:
        return {"truncated": True}
    sport, dport, length, sent_checksum = struct.unpack("!HHHH", datagram[:8])
    payload = datagram[8:]
    if not whole:
        ok = None
    elif sent_checksum == 0:
        ok = not ipv6  # 0 means "none" in IPv4 and is forbidden in IPv6 (RFC 8200 §8.1)
    else:
        ok = checksum(pseudo + datagram) == 0
    return {"srcPort": sport, "dstPort": dport, "length": length, "checksumOk": ok,
            "payloadLength": len(payload), "payloadHead": payload[:PAYLOAD_HEAD].hex()}


def decode_quoted(data: bytes) -> dict:
    """The offending packet an ICMP error quotes: its addresses, protocol and ports."""
    if not data:
        return {}
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        header_length = (data[0] & 0xF) * 4
        protocol, src, dst = data[9], data[12:16], data[16:20]
        l4 = data[header_length:]
        family = 4
    elif version == 6 and len(data) >= 40:
        walked = walk_ipv6_extensions(data[6], data[40:])
        protocol, l4, src, dst = walked["protocol"], walked["rest"], data[8:24], data[24:40]
        family = 6
    else:
        return {"truncated": True}
    quoted = {"family": family, "src": ip_text(src), "dst": ip_text(dst), "protocol": protocol}
    if protocol in (TCP, UDP) and len(l4) >= 4:
        quoted["srcPort"], quoted["dstPort"] = struct.unpack("!HH", l4[:4])
    if protocol in (ICMP, ICMPV6) and len(l4) >= 8:
        quoted["icmpType"], quoted["icmpId"] = l4[0], struct.unpack("!H", l4[4:6])[0]
    return quoted


def decode_icmp(message: bytes, pseudo, family: int, whole: bool) -> dict:
    """ICMP or ICMPv6 (ICMPv6's checksum covers the pseudo-header, ICMP's does not: pseudo None)."""
    if len(message) < 8:
        return {"truncated": True}
    kind, code = message[0], message[1]
    record = {"type": kind, "code": code,
              "checksumOk": checksum((pseudo or b"") + message) == 0 if whole else None}
    rest = message[4:8]
    errors = ICMPV6_ERRORS if family == 6 else ICMPV4_ERRORS
    if kind in errors:
        if family == 6 and kind == 2:
            record["mtu"] = struct.unpack("!I", rest)[0]  # Packet Too Big
        if family == 4 and kind == 3 and code == 4:
            record["mtu"] = struct.unpack("!H", rest[2:])[0]  # fragmentation needed
        record["quoted"] = decode_quoted(message[8:])
    elif (family == 6 and kind in (128, 129)) or (family == 4 and kind in (0, 8)):
        record["id"], record["seq"] = struct.unpack("!HH", rest)
    elif family == 6 and kind in (135, 136) and len(message) >= 24:
        record["target"] = ip_text(message[8:24])  # neighbour solicitation / advertisement
        if kind == 136:
            record["ndFlags"] = message[4] >> 5  # router, solicited, override
    return record


def walk_ipv6_extensions(next_header: int, rest: bytes) -> dict:
    """Follows the header chain from the fixed header: the upper-layer protocol, what follows
    it, the extension headers passed and the fragment header if any."""
    extensions = []
    fragment = None
    for _ in range(16):  # a chain longer than this is not something the lab sends
        if next_header in (HOP_BY_HOP, ROUTING, DESTINATION_OPTIONS, AUTHENTICATION):
            if len(rest) < 8:
                return {"protocol": next_header, "rest": b"", "extensions": extensions, "fragment": fragment, "truncated": True}
            length = (rest[1] + 2) * 4 if next_header == AUTHENTICATION else (rest[1] + 1) * 8
            if length > len(rest):
                return {"protocol": next_header, "rest": b"", "extensions": extensions, "fragment": fragment, "truncated": True}
            extensions.append(next_header)
            next_header, rest = rest[0], rest[length:]
        elif next_header == FRAGMENT:
            if len(rest) < 8:
                return {"protocol": next_header, "rest": b"", "extensions": extensions, "fragment": fragment, "truncated": True}
            offset_flags, ident = struct.unpack("!HI", rest[2:8])
            extensions.append(next_header)
            fragment = {"offset": (offset_flags >> 3) * 8, "more": bool(offset_flags & 1), "id": ident}
            next_header, rest = rest[0], rest[8:]
            if fragment["offset"] != 0:
                break  # a later fragment: no upper-layer header here
        else:
            break
    return {"protocol": next_header, "rest": rest, "extensions": extensions, "fragment": fragment}


def decode_ipv4(packet: bytes) -> dict:
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    header_length = (packet[0] & 0xF) * 4
    total = struct.unpack("!H", packet[2:4])[0]
    packet = packet[:total]  # drop Ethernet padding
    flags_offset = struct.unpack("!H", packet[6:8])[0]
    src, dst, protocol = packet[12:16], packet[16:20], packet[9]
    fragment = None
    if flags_offset & 0x3FFF:
        fragment = {"offset": (flags_offset & 0x1FFF) * 8, "more": bool(flags_offset & 0x2000),
                    "id": struct.unpack("!H", packet[4:6])[0]}
    record = {"family": 4, "src": ip_text(src), "dst": ip_text(dst), "hopLimit": packet[8], "protocol": protocol,
              "ipChecksumOk": checksum(packet[:header_length]) == 0, "dontFragment": bool(flags_offset & 0x4000),
              "ipLength": total, "extensions": [], "fragment": fragment}
    l4 = packet[header_length:]
    if fragment and fragment["offset"]:
        return record
    whole = fragment is None
    add_l4(record, protocol, l4, src, dst, whole)
    return record


def decode_ipv6(packet: bytes) -> dict:
    if len(packet) < 40 or packet[0] >> 4 != 6:
        return None
    payload_length = struct.unpack("!H", packet[4:6])[0]
    packet = packet[:40 + payload_length]  # drop Ethernet padding
    src, dst = packet[8:24], packet[24:40]
    walked = walk_ipv6_extensions(packet[6], packet[40:])
    record = {"family": 6, "src": ip_text(src), "dst": ip_text(dst), "hopLimit": packet[7], "protocol": walked["protocol"],
              "ipChecksumOk": True, "trafficClass": ((packet[0] & 0xF) << 4) | (packet[1] >> 4),
              "flowLabel": struct.unpack("!I", packet[:4])[0] & 0xFFFFF, "ipLength": 40 + payload_length,
              "extensions": walked["extensions"], "fragment": walked["fragment"]}
    if walked.get("truncated"):
        record["truncated"] = True
        return record
    fragment = walked["fragment"]
    if fragment and fragment["offset"]:
        return record
    add_l4(record, walked["protocol"], walked["rest"], src, dst, fragment is None)
    return record


def add_l4(record: dict, protocol: int, l4: bytes, src: bytes, dst: bytes, whole: bool) -> None:
    pseudo = pseudo_header(src, dst, protocol, len(l4))
    if protocol == TCP:
        record["tcp"] = decode_tcp(l4, pseudo, whole)
    elif protocol == UDP:
        record["udp"] = decode_udp(l4, pseudo, whole, len(src) == 16)
    elif protocol == ICMPV6 and len(src) == 16:
        record["icmp"] = decode_icmp(l4, pseudo, 6, whole)
    elif protocol == ICMP and len(src) == 4:
        record["icmp"] = decode_icmp(l4, None, 4, whole)


def decode_frame(frame: bytes):
    """The record for an IPv4 or IPv6 frame (with Ethernet addresses), None for anything else."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == ETHERTYPE_IPV4:
        record = decode_ipv4(frame[14:])
    elif ethertype == ETHERTYPE_IPV6:
        record = decode_ipv6(frame[14:])
    else:
        return None
    if record is None:
        return None
    record["dstMac"] = frame[0:6].hex(":")
    record["srcMac"] = frame[6:12].hex(":")
    return record
