// The lab real servers' UOA reader (docs/client-address.md#uoa): no kernel module loads in the lab,
// so a small Python 3 program (raw sockets are not in Node's standard library; python3 is in
// scripts/setup.sh's packages) reads DPVS's UDP option of address the way the uoa module does and
// answers every datagram to UOA_UDP_PORT with the client it learned:
//   - uoa_ipo: a raw IPPROTO_UDP socket sees each IPv4 datagram with its header; IPv4 option 31;
//   - uoa_opp: raw protocol-248 sockets (IPv4 and IPv6) see the 248 header, its option and the
//     UDP datagram behind it (the kernel has no handler for 248; a raw socket keeps it from
//     answering "protocol unreachable");
//   - what it learned is kept per source (LIP:lport), as the module keeps it per socket tuple, so
//     the datagrams after the first few (which carry no UOA) still name the client.
// The answer is JSON {"server","peer","client","uoa","checksum_ok","payload"} sent from an ordinary
// UDP socket on the port (which also keeps the kernel from answering "port unreachable"); uoa is the
// form the datagram carried ("ipo", "opp", or "" for none) and checksum_ok whether its UDP checksum
// verified over the ordinary pseudo-header (protocol 17, UDP length). It prints
// `uoa-reader <name> ready` once its sockets are open, and dies with its parent (PR_SET_PDEATHSIG).

import { spawn, type ChildProcess } from 'node:child_process';

/** Real servers answer UOA datagrams on this UDP port (and PROXY v2 datagrams on PROXY_HTTP_PORT). */
export const UOA_UDP_PORT = 82;

const READER_PY = String.raw`
import ctypes, json, select, signal, socket, struct, sys

name, port = sys.argv[1], int(sys.argv[2])
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: go when the lab server goes
except Exception:
    pass
OPP = 248
learned = {}  # (peer address, peer port) -> client text

def text(raw):
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)

def endpoint(address, p):
    return "[%s]:%d" % (address, p) if ":" in address else "%s:%d" % (address, p)

def checksum_ok(src, dst, udp):
    length = struct.unpack("!H", udp[4:6])[0]
    if length < 8 or length > len(udp):
        return False
    if len(src) == 4 and udp[6:8] == b"\0\0":
        return True  # IPv4: no checksum
    pseudo = src + dst + (struct.pack("!BBH", 0, 17, length) if len(src) == 4 else struct.pack("!I3xB", length, 17))
    data = pseudo + udp[:length]
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total == 0xffff

def uoa_client(options):
    # The option walk of the uoa module: end, no-op, then type/length; the first type 31 wins.
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(options):
            return None
        length = options[i + 1]
        if length < 2 or i + length > len(options):
            return None
        if kind == 31 and length in (8, 20):
            return endpoint(text(options[i + 4:i + length]), struct.unpack("!H", options[i + 2:i + 4])[0])
        i += length
    return None

def answer(out, src, dst, udp, form, client):
    sport, dport = struct.unpack("!HH", udp[0:4])
    if dport != port:
        return
    peer = (text(src), sport)
    if client:
        learned[peer] = client
    length = struct.unpack("!H", udp[4:6])[0]
    reply = {"server": name, "peer": endpoint(*peer), "client": learned.get(peer, ""), "uoa": form if client else "",
             "checksum_ok": checksum_ok(src, dst, udp), "payload": udp[8:length].decode("latin1")}
    out.sendto(json.dumps(reply).encode(), peer)

u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4.bind(("0.0.0.0", port))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
u6.bind(("::", port))
raw_udp4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
raw_opp4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, OPP)
raw_opp6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, OPP)
raw_opp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
print("uoa-reader %s ready" % name, flush=True)

while True:
    ready, _, _ = select.select([u4, u6, raw_udp4, raw_opp4, raw_opp6], [], [])
    for sock in ready:
        if sock is u4:
            u4.recv(65535)  # every IPv4 datagram is answered from its raw copy below
        elif sock is u6:
            data, (address, sport, _, _) = u6.recvfrom(65535)
            peer = (address, sport)
            reply = {"server": name, "peer": endpoint(*peer), "client": learned.get(peer, ""), "uoa": "",
                     "checksum_ok": True, "payload": data.decode("latin1")}
            u6.sendto(json.dumps(reply).encode(), peer)
        elif sock is raw_udp4:
            packet = raw_udp4.recv(65535)
            ihl = (packet[0] & 15) * 4
            answer(u4, packet[12:16], packet[16:20], packet[ihl:], "ipo", uoa_client(packet[20:ihl]))
        elif sock is raw_opp4:
            packet = raw_opp4.recv(65535)
            ihl = (packet[0] & 15) * 4
            opp = packet[ihl:]
            length = struct.unpack("!H", opp[2:4])[0]
            if opp[1] == 17 and length >= 4:
                answer(u4, packet[12:16], packet[16:20], opp[length:], "opp", uoa_client(opp[4:length]))
        else:
            opp, ancillary, _, source = raw_opp6.recvmsg(65535, 256)
            dst = next((d[:16] for level, kind, d in ancillary if kind == socket.IPV6_PKTINFO), b"\0" * 16)
            length = struct.unpack("!H", opp[2:4])[0]
            if opp[1] == 17 and length >= 4:
                answer(u6, socket.inet_pton(socket.AF_INET6, source[0]), dst, opp[length:], "opp", uoa_client(opp[4:length]))
`;

/**
 * Starts the reader for server `name` (in the caller's namespace); resolves once it is ready.
 * Its output goes to the caller's stdout/stderr (the server's log).
 */
export function startUoaReader(name: string, port = UOA_UDP_PORT): Promise<ChildProcess> {
  const child = spawn('python3', ['-c', READER_PY, name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`uoa-reader ${name} exited (${code}) before it was ready`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      seen += chunk.toString();
      if (seen.includes(`uoa-reader ${name} ready`)) resolve(child);
    });
  });
}
