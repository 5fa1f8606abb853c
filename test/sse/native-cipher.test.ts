// The two AES-GCM implementations share one stored format: objects a server wrote with node:crypto
// (TESSERA_NATIVE_CIPHER=off) read back whole and by range from one using the native addon over the same
// data, and the other way round; each server says at start which one it uses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { loadNativeGcmChunks } from '../../src/util/gcm-chunks.js';
import { bytesOf } from '../s3/sse-helpers.js';

const Bucket = 'cipher-bucket';
const nativeSkip = loadNativeGcmChunks().native || process.env.CI === 'true' ? false : 'the native addon is not built (npm run build:native)';
const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Single PUTs inline and in a block, and a two-part upload, all SSE-S3; returns their bodies by key. */
async function writeObjects(s3: S3Client, prefix: string): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (const [name, size] of [['inline', 700], ['block', 3 * 65536 + 12_345]] as const) {
    const body = randomBytes(size);
    await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}/${name}`, Body: body, ServerSideEncryption: 'AES256' }));
    bodies.set(`${prefix}/${name}`, body);
  }
  const Key = `${prefix}/multipart`;
  const parts = [randomBytes(5 * 2 ** 20 + 3), randomBytes(70_000)];
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ServerSideEncryption: 'AES256' }));
  const etags: string[] = [];
  for (const [i, Body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  bodies.set(Key, Buffer.concat(parts));
  return bodies;
}

async function checkObjects(s3: S3Client, bodies: Map<string, Buffer>): Promise<void> {
  for (const [Key, body] of bodies) {
    assert.ok((await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key })))).equals(body), `${Key} whole`);
    const start = Math.floor(body.length / 3);
    const end = Math.min(body.length, start + 200_000) - 1; // inclusive, across chunk (and for multipart, no) edges
    const ranged = await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${start}-${end}` })));
    assert.ok(ranged.equals(body.subarray(start, end + 1)), `${Key} bytes=${start}-${end}`);
  }
}

async function withServer<T>(dataDir: string, cipher: 'native' | 'node:crypto', fn: (s3: S3Client, server: TesseraProcess) => Promise<T>): Promise<T> {
  const server = await startTessera({ dataDir, env: { TESSERA_NATIVE_CIPHER: cipher === 'native' ? 'on' : 'off' } });
  const s3 = server.client();
  try {
    await server.logged(new RegExp(`Chunk cipher for encrypted objects.*"cipher":"${cipher}"`));
    return await fn(s3, server);
  } finally {
    s3.destroy();
    await server.stop();
  }
}

test('native cipher - objects sealed with node:crypto open with the native addon and the other way round', { skip: nativeSkip, timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-native-cipher-'));
  dirs.push(dataDir);
  const fromNode = await withServer(dataDir, 'node:crypto', async (s3) => {
    await s3.send(new CreateBucketCommand({ Bucket }));
    return writeObjects(s3, 'node');
  });
  const fromNative = await withServer(dataDir, 'native', async (s3) => {
    await checkObjects(s3, fromNode);
    return writeObjects(s3, 'native');
  });
  await withServer(dataDir, 'node:crypto', (s3) => checkObjects(s3, fromNative));
});
