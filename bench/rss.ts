// Memory while streaming one huge object: PUT then GET a 5 GiB object through `node bin/tessera.js
// server`, sampling the server's resident memory (/proc/PID/status VmRSS every 100 ms, and VmHWM, the
// kernel's own peak), and checking the GET returns the sha256 of what was sent. The body is generated
// as it is sent, so the only 5 GiB on disk is the object Tessera stores. Assert-free: it reports.
// Run: npm run build && npx tsx bench/rss.ts [--gib 5] [--drives N]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { send } from './lib/load.js';
import { describeMachine, loadText, machineInfo, markdownTable, num } from './lib/machine.js';
import { presignUrl } from './lib/presign.js';
import { startTesseraBinary } from './lib/server.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const rssLimitBytes = 300 * 1e6; // the issue's "300 MB"
const chunkBytes = 1 * MiB;
const sampleIntervalMs = 100;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** kB fields of /proc/PID/status, in bytes. */
function procStatus(pid: number): { rssBytes: number; hwmBytes: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rssBytes: field('VmRSS'), hwmBytes: field('VmHWM') };
}

class RssSampler {
  maxBytes = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}
  start(): void {
    this.maxBytes = 0;
    this.samples = 0;
    this.timer = setInterval(() => {
      this.maxBytes = Math.max(this.maxBytes, procStatus(this.pid).rssBytes);
      this.samples++;
    }, sampleIntervalMs);
  }
  stop(): void {
    clearInterval(this.timer);
    this.maxBytes = Math.max(this.maxBytes, procStatus(this.pid).rssBytes);
  }
}

/**
 * `totalBytes` of pseudo-random data, made by stamping a chunk counter into a random 1 MiB pattern: cheap
 * to produce, never two equal chunks, and hashed (sha256) as it goes out.
 */
function generatedBody(totalBytes: number, hash: ReturnType<typeof createHash>): Readable {
  const pattern = Buffer.allocUnsafe(chunkBytes);
  for (let i = 0; i < chunkBytes; i += 4) pattern.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  let sent = 0;
  let index = 0;
  return new Readable({
    highWaterMark: 4 * chunkBytes,
    read() {
      if (sent >= totalBytes) return void this.push(null);
      const length = Math.min(chunkBytes, totalBytes - sent);
      const chunk = Buffer.from(pattern.subarray(0, length)); // a copy: the socket may still hold the last one
      chunk.writeDoubleLE(index++, 0);
      if (length >= 16) chunk.writeDoubleLE(sent, length - 8);
      hash.update(chunk);
      sent += length;
      this.push(chunk);
    },
  });
}

async function putStream(url: string, body: Readable, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

async function getHashed(url: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

async function main(): Promise<void> {
  const totalBytes = Math.round(Number(arg('--gib') ?? '5') * GiB);
  const drives = Number(arg('--drives') ?? '0');
  const info = machineInfo();
  process.stdout.write(`${describeMachine(info)}\nobject:  ${num(totalBytes / GiB)} GiB, generated while sent\n`);
  const fs = await statfs(tmpdir());
  const freeBytes = fs.bavail * fs.bsize;
  // The stored object, plus parity at 4+2 when drives are used, plus room for everything else.
  const neededBytes = totalBytes * (drives >= 6 ? 1.5 : 1) + 2 * GiB;
  if (freeBytes < neededBytes) throw new Error(`Cannot run: ${num(freeBytes / GiB)} GiB free under ${tmpdir()}, ${num(neededBytes / GiB)} GiB needed`);

  const server = await startTesseraBinary({ drives });
  const agent = new Agent({ keepAlive: false });
  const sampler = new RssSampler(server.pid);
  try {
    const presign = (method: 'GET' | 'PUT', key: string) => presignUrl({ endpoint: server.url, credentials: server.credentials, method, bucket: 'rss', key });
    const made = await send(agent, 'PUT', presign('PUT', ''));
    if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
    const idle = procStatus(server.pid);
    process.stdout.write(`server:  pid ${server.pid} ${server.url}${drives > 0 ? `, ${drives} drives` : ''}, idle RSS ${num(idle.rssBytes / 1e6)} MB\n\n`);

    const sentHash = createHash('sha256');
    sampler.start();
    let t0 = performance.now();
    const putStatus = await putStream(presign('PUT', 'huge'), generatedBody(totalBytes, sentHash), totalBytes);
    const putSeconds = (performance.now() - t0) / 1000;
    sampler.stop();
    const putMax = sampler.maxBytes;
    const sent = sentHash.digest('hex');
    if (putStatus !== 200) throw new Error(`PUT answered ${putStatus}: ${server.stderr()}`);
    process.stdout.write(`PUT done in ${num(putSeconds)} s, max RSS ${num(putMax / 1e6)} MB (load ${loadText()})\n`);

    sampler.start();
    t0 = performance.now();
    const got = await getHashed(presign('GET', 'huge'));
    const getSeconds = (performance.now() - t0) / 1000;
    sampler.stop();
    const getMax = sampler.maxBytes;
    process.stdout.write(`GET done in ${num(getSeconds)} s, max RSS ${num(getMax / 1e6)} MB (load ${loadText()})\n`);

    const peak = procStatus(server.pid).hwmBytes;
    const match = got.status === 200 && got.bytes === totalBytes && got.sha256 === sent;
    const mb = (b: number) => num(b / 1e6);
    process.stdout.write(
      `\n${markdownTable(
        ['phase', 'MiB/s', 'max VmRSS MB (sampled every 100 ms)'],
        [
          ['idle', '', mb(idle.rssBytes)],
          ['PUT', num(totalBytes / MiB / putSeconds), mb(putMax)],
          ['GET', num(totalBytes / MiB / getSeconds), mb(getMax)],
        ],
      )}\n\n` +
        `VmHWM (peak RSS over the process's life): ${mb(peak)} MB → ${peak < rssLimitBytes ? 'under' : 'OVER'} 300 MB\n` +
        `GET sha256 ${match ? 'matches' : 'DOES NOT match'} what was sent (${got.bytes} bytes, status ${got.status}, sha256 ${got.sha256.slice(0, 16)}…)\n`,
    );
    if (!match) process.exitCode = 1;
  } finally {
    agent.destroy();
    await server.stop();
  }
}

await main();
