// Classic libpcap files (what tcpdump -r and Wireshark read): a 24-byte global header, then per
// packet a 16-byte record header and the kept bytes. Microsecond timestamps, LINKTYPE_ETHERNET,
// little-endian (readers tell the byte order from the magic number).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

export interface PcapPacket {
  /** Wall clock, microseconds since the Unix epoch. */
  timeUs: number;
  /** The frame's whole length on the wire. */
  wireLength: number;
  /** The bytes kept (at most snaplen). */
  data: Uint8Array;
}

export function pcapHeader(snaplen: number): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(PCAP_MAGIC_MICROSECONDS, 0);
  header.writeUInt16LE(2, 4);   // version 2.4
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8);    // thiszone: timestamps are UTC
  header.writeUInt32LE(0, 12);  // sigfigs
  header.writeUInt32LE(snaplen, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return header;
}

export function pcapRecord(packet: PcapPacket): Buffer {
  const record = Buffer.alloc(16 + packet.data.length);
  record.writeUInt32LE(Math.floor(packet.timeUs / 1e6), 0);
  record.writeUInt32LE(packet.timeUs % 1e6, 4);
  record.writeUInt32LE(packet.data.length, 8);
  record.writeUInt32LE(Math.max(packet.wireLength, packet.data.length), 12);
  record.set(packet.data, 16);
  return record;
}

/**
 * A pcap file written as packets arrive: the global header goes out at once, so the file is
 * valid (if empty) from the first moment, and every append writes whole records only.
 */
export class PcapWriter {
  private fd: number | undefined;

  constructor(path: string, snaplen: number) {
    this.fd = openSync(path, 'w', 0o600);  // payloads: readable by the operator only
    writeSync(this.fd, pcapHeader(snaplen));
  }

  append(packets: readonly PcapPacket[]): void {
    if (this.fd === undefined || packets.length === 0) return;
    writeSync(this.fd, Buffer.concat(packets.map(pcapRecord)));
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }
}
