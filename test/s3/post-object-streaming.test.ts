// PostObject streams the file part: a 64 MiB form upload must not grow the server's resident memory by
// the file's size. The body is generated as it is sent, so the test holds no copy either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile, type TesseraProcess } from '../helpers/tessera.js';
import { formBody, formBoundary, signedFields } from './post-form.js';

const MiB = 1024 * 1024;
const fileBytes = 64 * MiB;
const skip = existsSync('/proc/self/status') ? false : 'reads the server\'s resident memory from /proc';

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS not found');
  return Number(m[1]) * 1024;
}

/** Deterministic file content, one MiB at a time, and its MD5 as it goes. */
function* fileChunks(md5: ReturnType<typeof createHash>): Generator<Buffer> {
  for (let i = 0; i < fileBytes / MiB; i++) {
    const chunk = Buffer.alloc(MiB, i % 251);
    md5.update(chunk);
    yield chunk;
  }
}

/** Sends head, the generated file, then tail, honouring backpressure; resolves with the status. */
function streamForm(server: TesseraProcess, bucket: string, head: Buffer, tail: Buffer, md5: ReturnType<typeof createHash>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: `/${bucket}`, agent: false,
      headers: { 'content-type': `multipart/form-data; boundary=${formBoundary}`, 'content-length': String(head.length + fileBytes + tail.length) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const chunks = fileChunks(md5);
    const write = (): void => {
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        if (!req.write(next.value)) {
          req.once('drain', write);
          return;
        }
      }
      req.end(tail);
    };
    req.write(head);
    write();
  });
}

test('PostObject - a 64 MiB file streams through without the server holding it', { skip, timeout: 120_000 }, async () => {
  const { server, s3 } = await startTesseraForFile();
  const bucket = 'post-streaming';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // A first large PUT brings the write path's pools and buffers to their working size.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'warm-up', Body: Buffer.alloc(16 * MiB, 1) }));
  const pid = server.process.pid!;
  const before = rssBytes(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
  // The form as encoded, split around the file's content.
  const whole = formBody([['key', 'large'], ...signedFields(server, [{ key: 'large' }]), ['file', 'FILE', 'large.bin']]);
  const at = whole.indexOf('FILE');
  const md5 = createHash('md5');
  let status: number;
  try {
    status = await streamForm(server, bucket, whole.subarray(0, at), whole.subarray(at + 4), md5);
  } finally {
    clearInterval(sampler);
  }
  assert.equal(status, 204);
  const growth = peak - before;
  // Streamed, it grew 15-24 MiB (pools, GC lag); holding the file grew it by 202 MiB.
  assert.ok(growth < (fileBytes * 3) / 4, `resident memory grew by ${Math.round(growth / MiB)} MiB during a ${fileBytes / MiB} MiB upload`);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'large' }));
  assert.equal(got.ContentLength, fileBytes);
  assert.equal(got.ETag, `"${md5.digest('hex')}"`);
});
