// The deterministic byte pattern real servers stream for `/bytes/<n>`, so a
// test can check a transfer end to end by comparing sha256 digests without
// ever holding the payload: byte i of every download is i mod 251 (a prime,
// so the pattern never lines up with chunk, segment or page boundaries and
// a dropped, duplicated or reordered segment always changes the digest).

import { createHash } from 'node:crypto';

const PATTERN_PERIOD = 251;
/** A whole number of periods (~64 KiB), so consecutive blocks join seamlessly. */
const BLOCK_BYTES = PATTERN_PERIOD * 261;

const block: Buffer = (() => {
  const bytes = Buffer.alloc(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) bytes[i] = i % PATTERN_PERIOD;
  return bytes;
})();

/** Yields the first `totalBytes` bytes of the pattern in chunks of at most `maxChunkBytes`. */
export function* patternChunks(totalBytes: number, maxChunkBytes = BLOCK_BYTES): Generator<Buffer> {
  const chunkLimit = Math.max(1, Math.min(maxChunkBytes, BLOCK_BYTES));
  let sent = 0;
  while (sent < totalBytes) {
    // Every chunk starts at a block boundary offset modulo the period.
    const start = sent % PATTERN_PERIOD;
    const length = Math.min(chunkLimit, totalBytes - sent, BLOCK_BYTES - start);
    yield block.subarray(start, start + length);
    sent += length;
  }
}

/** sha256 (hex) of the first `totalBytes` bytes of the pattern. */
export function patternSha256(totalBytes: number): string {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(totalBytes)) hash.update(chunk);
  return hash.digest('hex');
}
