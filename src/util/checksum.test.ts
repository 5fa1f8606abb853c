import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { crc32c } from '@aws-crypto/crc32c';
import {
  checksumHeaderName, checksumOf, combineCrc, compositeChecksum, createChecksum, parseChecksumAlgorithm,
  type ChecksumAlgorithm, type CrcAlgorithm,
} from './checksum.js';

const crcAlgorithms: CrcAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME'];

function hex(alg: ChecksumAlgorithm, s: string | Buffer): string {
  return checksumOf(alg, Buffer.from(s)).toString('hex');
}

async function referenceCrc64(buf: Buffer): Promise<string> {
  const c = new Crc64Nvme();
  c.update(buf);
  return Buffer.from(await c.digest()).toString('hex');
}

test('checksum - published check values of "123456789"', () => {
  assert.equal(hex('CRC32', '123456789'), 'cbf43926');
  assert.equal(hex('CRC32C', '123456789'), 'e3069283');
  assert.equal(hex('CRC64NVME', '123456789'), 'ae8b14860a799888');
});

test('checksum - known answers of "hello world"', () => {
  // CRC32 from python3 zlib.crc32; CRC32C from @aws-crypto/crc32c; CRC64NVME from @aws-sdk/crc64-nvme.
  assert.equal(hex('CRC32', 'hello world'), '0d4a1185');
  assert.equal(hex('CRC32C', 'hello world'), 'c99465aa');
  assert.equal(hex('CRC64NVME', 'hello world'), '8d29d5c3f6ea8ebe');
  assert.equal(hex('SHA1', 'hello world'), '2aae6c35c94fcfb415dbe95f408b9ce91ee846ed');
  assert.equal(hex('SHA256', 'hello world'), 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
});

test('checksum - empty input digests to zero for every CRC', () => {
  for (const alg of crcAlgorithms) assert.equal(checksumOf(alg, Buffer.alloc(0)).readUIntBE(0, 4), 0, alg);
});

test('checksum - incremental updates equal one update when split at every offset', () => {
  const data = randomBytes(67);
  for (const alg of crcAlgorithms) {
    const whole = checksumOf(alg, data);
    for (let cut = 0; cut <= data.length; cut++) {
      const c = createChecksum(alg);
      c.update(data.subarray(0, cut));
      c.update(data.subarray(cut));
      assert.deepEqual(c.digest(), whole, `${alg} cut at ${cut}`);
    }
  }
});

test('checksum - agrees with independent implementations on random data', async () => {
  for (const size of [0, 1, 7, 8, 9, 1000, 65_537]) {
    const data = randomBytes(size);
    assert.equal(hex('CRC32', data), (zlibCrc32(data) >>> 0).toString(16).padStart(8, '0'));
    assert.equal(hex('CRC32C', data), crc32c(data).toString(16).padStart(8, '0'));
    assert.equal(hex('CRC64NVME', data), await referenceCrc64(data));
  }
});

test('combineCrc - equals the CRC of the concatenation for random data', () => {
  for (const alg of crcAlgorithms) {
    for (const [lenA, lenB] of [[0, 0], [0, 5], [5, 0], [1, 1], [100, 3], [4097, 65_536], [13, 1_000_003]]) {
      const a = randomBytes(lenA!);
      const b = randomBytes(lenB!);
      const combined = combineCrc(alg, checksumOf(alg, a), checksumOf(alg, b), b.length);
      assert.deepEqual(combined, checksumOf(alg, Buffer.concat([a, b])), `${alg} ${lenA}+${lenB}`);
    }
  }
});

test('combineCrc - folds many parts into the full-object CRC', () => {
  const parts = [randomBytes(1000), randomBytes(1), randomBytes(77_777), randomBytes(12)];
  for (const alg of crcAlgorithms) {
    let acc = checksumOf(alg, Buffer.alloc(0));
    for (const p of parts) acc = combineCrc(alg, acc, checksumOf(alg, p), p.length);
    assert.deepEqual(acc, checksumOf(alg, Buffer.concat(parts)), alg);
  }
});

test('combineCrc - rejects a negative length and a wrong-size digest', () => {
  const four = Buffer.alloc(4);
  assert.throws(() => combineCrc('CRC32', four, four, -1), RangeError);
  assert.throws(() => combineCrc('CRC64NVME', four, four, 1), RangeError);
});

test('compositeChecksum - is base64 of the hash of concatenated part digests, dash part count', () => {
  const p1 = checksumOf('SHA256', Buffer.from('part one'));
  const p2 = checksumOf('SHA256', Buffer.from('part two'));
  const expected = createHash('sha256').update(Buffer.concat([p1, p2])).digest('base64');
  assert.equal(compositeChecksum('SHA256', [p1, p2]), `${expected}-2`);
  const c1 = checksumOf('CRC32', Buffer.from('a'));
  assert.equal(compositeChecksum('CRC32', [c1]), `${checksumOf('CRC32', c1).toString('base64')}-1`);
  assert.throws(() => compositeChecksum('CRC32', [p1]), RangeError);
});

test('parseChecksumAlgorithm - is case-insensitive and rejects unknown names', () => {
  assert.equal(parseChecksumAlgorithm('crc64nvme'), 'CRC64NVME');
  assert.equal(parseChecksumAlgorithm('Sha256'), 'SHA256');
  assert.equal(parseChecksumAlgorithm('md5'), undefined);
  assert.equal(parseChecksumAlgorithm(''), undefined);
});

test('checksumHeaderName - lowercases the algorithm after the x-amz-checksum- prefix', () => {
  assert.equal(checksumHeaderName('CRC64NVME'), 'x-amz-checksum-crc64nvme');
  assert.equal(checksumHeaderName('SHA1'), 'x-amz-checksum-sha1');
});
