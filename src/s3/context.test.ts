import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pacedPayload } from './context.js';
import { ByteMeter } from '../util/rate-limiter.js';
import type { PayloadStream } from './sigv4/chunked.js';
import { IterableSource } from '../util/chunk-source.js';

test('pacedPayload - a paced body keeps the MD5 and checksum its decoder computed when rate limits apply', async () => {
  const bytes = Buffer.from('paced bytes');
  const md5 = createHash('md5').update(bytes).digest();
  async function* pieces(): AsyncGenerator<Buffer> {
    yield bytes;
  }
  const decoded: PayloadStream = Object.assign(new IterableSource(pieces()), { deferPayloadCheck: () => ({ digest: () => Promise.resolve(md5), dispose: () => undefined }), checksum: { algorithm: 'CRC32' as const, valueBase64: () => 'AAAAAA==' } });
  // A meter with no limits in it: nothing to wait for, but the body still goes through the pacing layer.
  const paced = pacedPayload({ meter: new ByteMeter([], () => 0), signal: new AbortController().signal }, decoded);
  assert.notEqual(paced, decoded);
  const out: Buffer[] = [];
  for await (const piece of paced) out.push(piece);
  assert.deepEqual(Buffer.concat(out), bytes);
  // Without the MD5 the object layer hashed a signed body's MD5 a second time.
  assert.deepEqual(await paced.deferPayloadCheck?.().digest(), md5);
  assert.equal(paced.checksum?.valueBase64(), 'AAAAAA==');
});
