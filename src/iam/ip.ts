// IPv4 and IPv6 addresses and CIDR blocks as IpAddress/NotIpAddress conditions compare them: parsed to
// bytes, so "::ffff:10.0.0.1" and "10.0.0.1" are one address and no string trick slips past a block.
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  bytes: Uint8Array;
  prefixBits: number;
}

function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

function ipv6Bytes(text: string): Uint8Array | undefined {
  let head = text;
  let tail4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = text.slice(lastColon + 1);
    if (!isIPv4(v4)) return undefined;
    tail4 = ipv4Bytes(v4);
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right, extra] = head.split('::');
  if (extra !== undefined) return undefined;
  const groupsOf = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groupsOf(left);
  const r = groupsOf(right);
  const groups = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** An address as 4 bytes (IPv4, or IPv4-mapped IPv6) or 16 (IPv6); undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return ipv4Bytes(text);
  if (!isIPv6(text)) return undefined;
  const bytes = ipv6Bytes(text);
  if (!bytes) return undefined;
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128 block); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const bytes = isIPv4(address) ? ipv4Bytes(address) : isIPv6(address) ? ipv6Bytes(address) : undefined;
  if (!bytes) return undefined;
  const bitsText = slash < 0 ? String(bytes.length * 8) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return undefined;
  const prefixBits = Number(bitsText);
  if (prefixBits > bytes.length * 8) return undefined;
  return { bytes, prefixBits };
}

export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (cidr.bytes.length !== ip.length) return false;
  let bits = cidr.prefixBits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}
