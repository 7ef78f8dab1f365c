// Adler-32 (RFC 1950), the checksum ZooKeeper's transaction log and snapshots use
// (java.util.zip.Adler32). Pure function over bytes.
//
// Two sums modulo 65521: a = 1 + Σ bytes, b = Σ a after each byte. The modulo is
// deferred: within a run of ADLER_RUN_BYTES_MAX bytes neither sum can exceed 2^32 − 1
// (zlib's NMAX), so the inner loop is only additions.

const ADLER_MOD = 65521;
/** zlib's NMAX: the longest run with 255·n(n+1)/2 + (n+1)(MOD−1) ≤ 2^32 − 1. */
const ADLER_RUN_BYTES_MAX = 5552;

/**
 * Adler-32 of buf[start, end), continuing from `seed` (1 for a fresh checksum; pass a
 * previous result to checksum a message in pieces). Returns an unsigned 32-bit number,
 * the same value as java.util.zip.Adler32.getValue().
 */
export function adler32(buf: Uint8Array, start = 0, end = buf.length, seed = 1): number {
  if (!(start >= 0 && start <= end && end <= buf.length)) {
    throw new RangeError(`adler32: bad range [${start}, ${end}) for ${buf.length} bytes`);
  }
  let a = seed & 0xffff;
  let b = (seed >>> 16) & 0xffff;
  let i = start;
  while (i < end) {
    const runEnd = Math.min(end, i + ADLER_RUN_BYTES_MAX);
    // 8 bytes per iteration: fewer loop tests; the sums stay below 2^32 either way
    const unrolledEnd = runEnd - 7;
    while (i < unrolledEnd) {
      a += buf[i];
      b += a;
      a += buf[i + 1];
      b += a;
      a += buf[i + 2];
      b += a;
      a += buf[i + 3];
      b += a;
      a += buf[i + 4];
      b += a;
      a += buf[i + 5];
      b += a;
      a += buf[i + 6];
      b += a;
      a += buf[i + 7];
      b += a;
      i += 8;
    }
    while (i < runEnd) {
      a += buf[i++];
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return ((b << 16) | a) >>> 0;
}
