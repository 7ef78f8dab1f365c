// Java's text formats as ZooKeeper prints them (Double.toString, Long.toHexString,
// Date.toString, InetSocketAddress.toString) and its AvgMinMaxCounter summaries: one copy
// for the four-letter words, the AdminServer's JSON, the Prometheus text and the shell.
import type { Summary } from './fourlw.ts';


/** AvgMinMaxCounter.getAvg: sum/count rounded HALF_UP to 4 places on the exact double (0 when empty). */
export function summaryAvg(x: Summary): number {
  if (x.count === 0) return 0;
  assert(x.count > 0 && x.sum >= 0, 'summary count and sum must be non-negative');
  // toFixed rounds the exact binary value, ties away from zero: BigDecimal HALF_UP.
  return Number((x.sum / x.count).toFixed(4));
}

export function summaryMin(x: Summary): number {
  return x.count === 0 ? 0 : x.min;
}

export function summaryMax(x: Summary): number {
  return x.count === 0 ? 0 : x.max;
}

/** AvgMinMaxCounter.add: one sample in. */
export function summaryAdd(x: Summary, value: number): void {
  x.min = x.count === 0 ? value : Math.min(x.min, value);
  x.max = x.count === 0 ? value : Math.max(x.max, value);
  x.count++;
  x.sum += value;
}

/** Java's Double.toString: "0.0", "1.2105", "1.0E-4", "1.23456789E7". */
export function javaDouble(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(x);
    return s.includes('.') ? s : s + '.0';
  }
  const [mantissa, exponent] = x.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : mantissa + '.0'}E${exponent.startsWith('+') ? exponent.slice(1) : exponent}`;
}

export function integer(x: number): string {
  assert(Number.isInteger(x), `expected an integer, got ${x}`);
  return String(x);
}

/** Long.toHexString: two's complement for negatives (-1 → ffffffffffffffff). */
export function hex64(x: number | bigint): string {
  assert(typeof x === 'bigint' || Number.isSafeInteger(x), `expected a 64-bit integer, got ${x}`);
  return BigInt.asUintN(64, BigInt(x)).toString(16);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** java.util.Date.toString() in UTC: "Sat Nov 21 22:20:23 UTC 2026". */
export function javaDateString(epochMs: number): string {
  const d = new Date(epochMs);
  assert(!Number.isNaN(d.getTime()), `invalid time ${epochMs}`);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())} `
    + `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/**
 * InetSocketAddress.toString for an unresolved-hostname peer: "/127.0.0.1:5000",
 * "/[0:0:0:0:0:0:0:1]:5000". IPv4-mapped IPv6 prints as IPv4, as Java maps it to Inet4Address.
 */
export function javaSocketAddress(ip: string, port: number): string {
  assert(Number.isInteger(port) && port >= 0 && port <= 65535, `bad port ${port}`);
  if (!ip.includes(':')) return `/${ip}:${port}`;
  const scopeAt = ip.indexOf('%');
  const scope = scopeAt < 0 ? '' : ip.slice(scopeAt);
  const groups = ipv6Groups(scopeAt < 0 ? ip : ip.slice(0, scopeAt));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `/${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}:${port}`;
  }
  return `/[${groups.map((g) => g.toString(16)).join(':')}${scope}]:${port}`;
}

function ipv6Groups(addr: string): number[] {
  let text = addr;
  const lastColon = text.lastIndexOf(':');
  const v4 = text.slice(lastColon + 1);
  if (v4.includes('.')) { // embedded IPv4 tail ("::ffff:10.0.0.1") → two hex groups
    const o = v4.split('.').map(Number);
    assert(o.length === 4 && o.every((x) => Number.isInteger(x) && x >= 0 && x <= 255), `bad IPv6 address ${addr}`);
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => {
    assert(/^[0-9a-fA-F]{1,4}$/.test(h), `bad IPv6 address ${addr}`);
    return parseInt(h, 16);
  }));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap < 0) {
    groups = parse(text);
  } else {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    assert(head.length + rest.length < 8, `bad IPv6 address ${addr}`);
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  assert(groups.length === 8, `bad IPv6 address ${addr}`);
  return groups;
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`fourlw: ${message}`);
}

