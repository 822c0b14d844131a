// Splitting whole frames into IP fragments, as a sender's stack would: for the fragment
// golden tests of both families and for the exception path's fragment cases.
import { buildIpv4, buildIpv6, decodeIpv6, type Ipv6Extension } from './packet.js';

/**
 * Splits a whole Ethernet/IPv4 frame (20-byte IP header) into fragments whose payloads start at
 * `cuts` (bytes, multiples of 8; the first must be 0). Returned in cut order.
 */
export function fragmentFrame4(frame: Buffer, cuts: number[], id: number): Buffer[] {
  const eth = frame.subarray(0, 14);
  const header = frame.subarray(14, 34);
  const payload = frame.subarray(34);
  const src = `${header[12]}.${header[13]}.${header[14]}.${header[15]}`;
  const dst = `${header[16]}.${header[17]}.${header[18]}.${header[19]}`;
  return cuts.map((start, k) => {
    const end = cuts[k + 1] ?? payload.length;
    const ip = buildIpv4({ src, dst, protocol: header[9]!, ttl: header[8]!, id, moreFragments: k + 1 < cuts.length, fragmentOffset: start / 8 },
      Buffer.from(payload.subarray(start, end)));
    return Buffer.concat([eth, ip]);
  });
}

/**
 * Splits a whole Ethernet/IPv6 frame (40-byte header, no extension headers) into fragments whose
 * fragmentable parts start at `cuts` (bytes, multiples of 8; the first 0). In cut order.
 * `before`: extension headers of the unfragmentable part (in every fragment).
 */
export function fragmentFrame6(frame: Buffer, cuts: number[], id: number, before: Ipv6Extension[] = []): Buffer[] {
  const eth = frame.subarray(0, 14);
  const { ipv6 } = decodeIpv6(frame.subarray(14));
  const body = frame.subarray(54);
  return cuts.map((start, k) => {
    const end = cuts[k + 1] ?? body.length;
    const ip = buildIpv6({
      src: ipv6!.src, dst: ipv6!.dst, hopLimit: ipv6!.hopLimit, protocol: ipv6!.nextHeader,
      extensions: [...before, { type: 'fragment', offset: start / 8, more: k + 1 < cuts.length, id }],
    }, Buffer.from(body.subarray(start, end)));
    return Buffer.concat([eth, ip]);
  });
}
