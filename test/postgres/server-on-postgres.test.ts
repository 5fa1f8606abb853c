// `tessera server --meta postgres://...`: a real server process with its metadata in a throwaway
// PostgreSQL. S3 works as on SQLite; while PostgreSQL is stopped requests answer 503 (no hang, no 500, no
// crash), and once it is back the server recovers without a restart and every acknowledged write reads back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const skip = skipWithoutPostgres();
let postgres: PostgresServer;
let server: TesseraProcess;
let s3: S3Client;
/** No retries: each request's own answer is what the outage test checks. */
let once: S3Client;

if (!skip) {
  before(async () => {
    postgres = await startPostgres();
    const url = await postgres.createDatabase();
    server = await startTessera({ args: ['--meta', url, '--gc-interval', '1'] });
    s3 = server.client();
    once = new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  });
  after(async () => {
    s3?.destroy();
    once?.destroy();
    await server?.cleanup();
    await postgres?.cleanup();
  });
}

/** Every object acknowledged with 200 so far, by bucket/key: what must read back at the end. */
const acknowledged = new Map<string, Buffer>();

async function put(client: S3Client, Bucket: string, Key: string, body: Buffer, signal?: AbortSignal): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket, Key, Body: body }), signal ? { abortSignal: signal } : {});
  acknowledged.set(`${Bucket}/${Key}`, body);
}

async function read(Bucket: string, Key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

test('server on PostgreSQL - PUT, GET, DELETE, LIST, versioning and multipart work', { skip }, async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'pgs' }));
  await put(s3, 'pgs', 'small', Buffer.from('hello'));
  await put(s3, 'pgs', 'dir/large', randomBytes(300 * 1024)); // past the inline limit: a block on the drive
  assert.equal((await read('pgs', 'small')).toString(), 'hello');
  assert.deepEqual(await read('pgs', 'dir/large'), acknowledged.get('pgs/dir/large'));
  await s3.send(new PutObjectCommand({ Bucket: 'pgs', Key: 'gone', Body: 'soon' }));
  await s3.send(new DeleteObjectCommand({ Bucket: 'pgs', Key: 'gone' }));
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'pgs', Key: 'gone' })), (err: unknown) => err instanceof NoSuchKey);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'pgs', Delimiter: '/' }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key), ['small']);
  assert.deepEqual(listed.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);

  await s3.send(new CreateBucketCommand({ Bucket: 'pg-versions' }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'pg-versions', VersioningConfiguration: { Status: 'Enabled' } }));
  const first = await s3.send(new PutObjectCommand({ Bucket: 'pg-versions', Key: 'k', Body: 'one' }));
  await put(s3, 'pg-versions', 'k', Buffer.from('two'));
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'pg-versions' }));
  assert.equal(versions.Versions?.length, 2);
  const old = await s3.send(new GetObjectCommand({ Bucket: 'pg-versions', Key: 'k', VersionId: first.VersionId! }));
  assert.equal(await old.Body!.transformToString(), 'one');

  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'pgs', Key: 'multi' }));
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
  const etags = await Promise.all(parts.map((Body, i) => s3.send(new UploadPartCommand({ Bucket: 'pgs', Key: 'multi', UploadId, PartNumber: i + 1, Body }))));
  await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: 'pgs', Key: 'multi', UploadId, MultipartUpload: { Parts: etags.map((e, i) => ({ PartNumber: i + 1, ETag: e.ETag! })) } }),
  );
  acknowledged.set('pgs/multi', Buffer.concat(parts));
  assert.deepEqual(await read('pgs', 'multi'), acknowledged.get('pgs/multi'));
});

test('server on PostgreSQL - answers 503 while PostgreSQL is stopped, recovers without a restart, and loses nothing acknowledged', { skip }, async () => {
  // Writers keep putting while PostgreSQL goes away and comes back; each answer is 200 or 503.
  let writing = true;
  const statuses: number[] = [];
  const writer = async (id: number): Promise<void> => {
    for (let i = 0; writing; i++) {
      try {
        await put(once, 'pgs', `load/${id}/${i}`, randomBytes(i % 2 === 0 ? 100 : 64 * 1024), AbortSignal.timeout(60_000));
        statuses.push(200);
      } catch (err) {
        assert.ok(err instanceof S3ServiceException, `not an S3 answer: ${String(err)}`);
        statuses.push(err.$metadata.httpStatusCode ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const writers = [0, 1, 2].map(writer);
  try {
    await new Promise((r) => setTimeout(r, 500));
    await postgres.stop();

    // Every kind of request gets 503 ServiceUnavailable, within the abort deadline (no hang).
    const requests: [string, () => Promise<unknown>][] = [
      ['GET', () => once.send(new GetObjectCommand({ Bucket: 'pgs', Key: 'small' }), { abortSignal: AbortSignal.timeout(60_000) })],
      ['PUT', () => once.send(new PutObjectCommand({ Bucket: 'pgs', Key: 'during', Body: 'x' }), { abortSignal: AbortSignal.timeout(60_000) })],
      ['LIST', () => once.send(new ListObjectsV2Command({ Bucket: 'pgs' }), { abortSignal: AbortSignal.timeout(60_000) })],
      ['CreateBucket', () => once.send(new CreateBucketCommand({ Bucket: 'pg-during' }), { abortSignal: AbortSignal.timeout(60_000) })],
    ];
    for (const [name, send] of requests) {
      await assert.rejects(send(), (err: unknown) => {
        assert.ok(err instanceof S3ServiceException, `${name}: not an S3 answer: ${String(err)}`);
        assert.equal(err.$metadata.httpStatusCode, 503, `${name}: ${err.name} ${err.message}`);
        assert.equal(err.name, 'ServiceUnavailable', name);
        return true;
      });
    }
    assert.equal(server.process.exitCode, null, 'the server exited');
    // The writers meet the outage too before PostgreSQL comes back.
    for (let i = 0; i < 300 && statuses.filter((s) => s === 503).length < 3; i++) await new Promise((r) => setTimeout(r, 100));

    await postgres.start();
    // No restart of the server: its pool opens new connections on the next call.
    assert.equal((await read('pgs', 'small')).toString(), 'hello');
    await put(s3, 'pgs', 'after', Buffer.from('back'));
  } finally {
    writing = false;
    await Promise.all(writers);
  }
  assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses other than 200 and 503: ${[...new Set(statuses)].join(', ')}`);
  assert.ok(statuses.includes(503), 'no writer met the outage');
  for (const [name, body] of acknowledged) {
    const [bucket, ...key] = name.split('/');
    assert.deepEqual(await read(bucket!, key.join('/')), body, `acknowledged ${name} did not read back`);
  }
  assert.doesNotMatch(server.logs(), /InternalError|Unhandled request failure/);
  assert.equal(server.process.exitCode, null, 'the server exited');
});

test('server on PostgreSQL - a second server on the same data directory exits with a clear error', { skip }, async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'server', '--address', '127.0.0.1:0', '--data', server.dataDir, '--meta', postgres.url()], {
    env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a second server that started would never exit
  const code = await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /Cannot start on data directory ".*": another Tessera server is using it/);
  assert.equal((await read('pgs', 'small')).toString(), 'hello');
});
