// IPv6 addresses as text in the one canonical form (RFC 5952: lower case, no leading zeros,
// the longest run of two or more zero groups as "::", the first such run on a tie), so an
// address read off the wire compares equal to the lab's own constants and to Linux's output.

/** The canonical text of a 16-byte IPv6 address. */
export function ipv6ToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`an IPv6 address is 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;  // a single zero group stays "0" (RFC 5952 §4.2.2)
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) { start++; continue; }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}
