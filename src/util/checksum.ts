// S3 flexible checksums: incremental CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, the CRC combine
// that turns per-part CRCs into a full-object CRC, and AWS's composite "hash of hashes-N" form.
// Digests are big-endian bytes; S3 sends them base64-encoded. Nothing here knows about HTTP.
import { createHash } from 'node:crypto';
// The same CRC-32 (IEEE) as zlib's, about 8x faster.
import { crc32 as crc32Ieee } from '@node-rs/crc32';
import { assert } from './assert.js';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export type CrcAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME';

export const checksumAlgorithms: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

export const checksumDigestBytes: Readonly<Record<ChecksumAlgorithm, number>> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

export interface Checksum {
  update(buf: Buffer): void;
  digest(): Buffer;
}

export function parseChecksumAlgorithm(s: string): ChecksumAlgorithm | undefined {
  const upper = s.trim().toUpperCase();
  return checksumAlgorithms.find((alg) => alg === upper);
}

export function isCrcAlgorithm(alg: ChecksumAlgorithm): alg is CrcAlgorithm {
  return alg === 'CRC32' || alg === 'CRC32C' || alg === 'CRC64NVME';
}

/** The request/response header that carries a checksum, e.g. "x-amz-checksum-crc64nvme". */
export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

export function createChecksum(alg: ChecksumAlgorithm): Checksum {
  switch (alg) {
    case 'CRC32': return new Crc32();
    case 'CRC32C': return new Crc32c();
    case 'CRC64NVME': return new Crc64Nvme();
    case 'SHA1': return hashChecksum('sha1');
    case 'SHA256': return hashChecksum('sha256');
  }
}

export function checksumOf(alg: ChecksumAlgorithm, buf: Buffer): Buffer {
  const checksum = createChecksum(alg);
  checksum.update(buf);
  return checksum.digest();
}

/**
 * AWS's composite checksum of a multipart upload: base64(hash(concat(part digests))) + "-" + parts.
 * See "Checking object integrity" in the S3 user guide (composite vs full-object checksums).
 */
export function compositeChecksum(alg: ChecksumAlgorithm, partDigests: Buffer[]): string {
  for (const digest of partDigests) {
    if (digest.length !== checksumDigestBytes[alg]) throw new RangeError(`Part digest of ${digest.length} bytes is not a ${alg} digest`);
  }
  return `${checksumOf(alg, Buffer.concat(partDigests)).toString('base64')}-${partDigests.length}`;
}

function hashChecksum(name: 'sha1' | 'sha256'): Checksum {
  const hash = createHash(name);
  return { update: (buf) => void hash.update(buf), digest: () => hash.digest() };
}

// The native CRC32 takes a running value, so only that is kept.
class Crc32 implements Checksum {
  private value = 0;
  update(buf: Buffer): void {
    this.value = crc32Ieee(buf, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}

// Reflected polynomials (bit 0 holds the x^(width-1) coefficient), as in every CRC32/CRC64 table.
const crc32cPoly = 0x82f63b78;
const crc64NvmePoly = 0x9a6c9329ac4bc9b5n;

// Slicing-by-8 tables: table k maps a byte to its CRC followed by k zero bytes. @aws-crypto/crc32c
// loops byte by byte through an iterator and is ~10x slower, so CRC32C is computed here.
const crc32cTables = buildCrc32Tables(crc32cPoly);

function buildCrc32Tables(poly: number): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = t[(k - 1) * 256 + b]!;
      t[k * 256 + b] = ((prev >>> 8) ^ t[prev & 0xff]!) >>> 0;
    }
  }
  return t;
}

class Crc32c implements Checksum {
  private crc = 0xffffffff;
  update(buf: Buffer): void {
    const t = crc32cTables;
    let crc = this.crc;
    let i = 0;
    const end8 = buf.length - (buf.length % 8);
    for (; i < end8; i += 8) {
      const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
      crc = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]!
        ^ t[768 + buf[i + 4]!]! ^ t[512 + buf[i + 5]!]! ^ t[256 + buf[i + 6]!]! ^ t[buf[i + 7]!]!;
    }
    for (; i < buf.length; i++) crc = (crc >>> 8) ^ t[(crc ^ buf[i]!) & 0xff]!;
    this.crc = crc;
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out;
  }
}

// CRC64 runs on two 32-bit halves because BigInt arithmetic per byte is far too slow.
// Entry (k, b) sits at index 2*(k*256+b): high half, then low half.
const crc64Tables = buildCrc64Tables(crc64NvmePoly);

function buildCrc64Tables(poly: bigint): Uint32Array {
  const big: bigint[] = [];
  for (let b = 0; b < 256; b++) {
    let c = BigInt(b);
    for (let bit = 0; bit < 8; bit++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    big.push(c);
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = big[(k - 1) * 256 + b]!;
      big.push((prev >> 8n) ^ big[Number(prev & 0xffn)]!);
    }
  }
  const t = new Uint32Array(2 * big.length);
  big.forEach((v, i) => {
    t[2 * i] = Number(v >> 32n);
    t[2 * i + 1] = Number(v & 0xffffffffn);
  });
  return t;
}

class Crc64Nvme implements Checksum {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  update(buf: Buffer): void {
    const t = crc64Tables;
    let hi = this.hi;
    let lo = this.lo;
    let i = 0;
    const end8 = buf.length - (buf.length % 8);
    for (; i < end8; i += 8) {
      const a = lo ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
      const b = hi ^ (buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24));
      // Byte j of the 8 is followed by 7-j more bytes, so it indexes table 7-j.
      const i0 = (1792 + (a & 0xff)) << 1, i1 = (1536 + ((a >>> 8) & 0xff)) << 1;
      const i2 = (1280 + ((a >>> 16) & 0xff)) << 1, i3 = (1024 + (a >>> 24)) << 1;
      const i4 = (768 + (b & 0xff)) << 1, i5 = (512 + ((b >>> 8) & 0xff)) << 1;
      const i6 = (256 + ((b >>> 16) & 0xff)) << 1, i7 = (b >>> 24) << 1;
      hi = t[i0]! ^ t[i1]! ^ t[i2]! ^ t[i3]! ^ t[i4]! ^ t[i5]! ^ t[i6]! ^ t[i7]!;
      lo = t[i0 + 1]! ^ t[i1 + 1]! ^ t[i2 + 1]! ^ t[i3 + 1]! ^ t[i4 + 1]! ^ t[i5 + 1]! ^ t[i6 + 1]! ^ t[i7 + 1]!;
    }
    for (; i < buf.length; i++) {
      const idx = ((lo ^ buf[i]!) & 0xff) << 1;
      lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ t[idx + 1]!;
      hi = (hi >>> 8) ^ t[idx]!;
    }
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}

// ---- CRC combine -----------------------------------------------------------------------------
// For a CRC whose init equals its final xor (true of all three), crc(A||B) = crc(A)·x^(8·len(B)) mod P
// xor crc(B): the xor-ins cancel and what is left is linear. This is zlib's crc32_combine (1.2.12+),
// done in BigInt for any width; it runs once per part, so speed does not matter.

interface CrcSpec { width: number; poly: bigint }

const crcSpecs: Readonly<Record<CrcAlgorithm, CrcSpec>> = {
  CRC32: { width: 32, poly: 0xedb88320n },
  CRC32C: { width: 32, poly: BigInt(crc32cPoly) },
  CRC64NVME: { width: 64, poly: crc64NvmePoly },
};

// x2nTables[alg][k] = x^(2^k) mod P, reflected; 67 entries cover byte lengths up to 2^64.
const x2nTables = new Map<CrcAlgorithm, bigint[]>();

/** a·b mod P with both in reflected form, where the top bit (1 << width-1) is x^0. */
function multModP(spec: CrcSpec, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(spec.width - 1);
  let p = 0n;
  while (m !== 0n) {
    if (a & m) p ^= b;
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ spec.poly : b >> 1n;
  }
  return p;
}

function x2nTable(alg: CrcAlgorithm): bigint[] {
  let table = x2nTables.get(alg);
  if (table) return table;
  const spec = crcSpecs[alg];
  table = [1n << BigInt(spec.width - 2)]; // x^1
  for (let k = 1; k < 67; k++) table.push(multModP(spec, table[k - 1]!, table[k - 1]!));
  x2nTables.set(alg, table);
  return table;
}

/** x^(8·bytes) mod P. */
function xPowBytes(alg: CrcAlgorithm, bytes: number): bigint {
  const spec = crcSpecs[alg];
  const table = x2nTable(alg);
  let p = 1n << BigInt(spec.width - 1); // x^0
  let n = BigInt(bytes);
  for (let k = 3; n !== 0n; k++, n >>= 1n) {
    if (n & 1n) p = multModP(spec, table[k]!, p);
  }
  return p;
}

/** The CRC of A||B from crc(A), crc(B) and len(B), each CRC as big-endian digest bytes. */
export function combineCrc(alg: CrcAlgorithm, crcA: Buffer, crcB: Buffer, lengthB: number): Buffer {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`Length "${lengthB}" is not a byte count`);
  const width = crcSpecs[alg].width;
  if (crcA.length !== width / 8 || crcB.length !== width / 8) throw new RangeError(`${alg} digests must be ${width / 8} bytes`);
  const a = BigInt(`0x${crcA.toString('hex')}`);
  const b = BigInt(`0x${crcB.toString('hex')}`);
  const combined = multModP(crcSpecs[alg], xPowBytes(alg, lengthB), a) ^ b;
  const hex = combined.toString(16).padStart(width / 4, '0');
  assert(hex.length === width / 4, 'Combined CRC overflowed its width');
  return Buffer.from(hex, 'hex');
}
