// A/B comparison of Tessera configurations in one run: every server gets the same PUT and GET loads, run
// after one another within each repeat (so background load hits all alike), and each cell reports the
// median over repeats. Used by bench/drives.ts (1 drive vs 6 at 4+2) and bench/inline.ts (inline vs blocks).
import { randomFillSync } from 'node:crypto';
import { Agent } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, send, type Driver, type LoadResult } from './load.js';
import { median } from './machine.js';
import { presignUrl } from './presign.js';
import { emptySha256Hex, signedHeaders } from './sigv4.js';
import { createHash } from 'node:crypto';
import type { BenchServer } from './server.js';

const bucket = 'bench';

export interface Contender {
  name: string;
  server: BenchServer;
}

export interface CompareSize {
  label: string;
  bytes: number;
  getObjects: number;
  putKeys: number;
}

export interface CompareCell {
  contender: string;
  op: 'PUT' | 'GET' | 'HEAD';
  size: string;
  bytes: number;
  concurrency: number;
  opsPerSecond: number;
  mibPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerOp: number;
  eldP99Ms: number;
}

function bytesFor(size: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  randomFillSync(buf);
  if (size >= 4) buf.writeUInt32LE(index, 0);
  return buf;
}

/** Creates the bucket and the GET objects on every contender (of a server, only its address and credentials are used). */
export async function prepare(contenders: { name?: string; server: Pick<BenchServer, 'url' | 'credentials'> }[], sizes: CompareSize[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    for (const { server } of contenders) {
      const made = await send(agent, 'PUT', presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key: '' }));
      if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
      for (const size of sizes) {
        for (let i = 0; i < size.getObjects; i += 4) {
          await Promise.all(
            [i, i + 1, i + 2, i + 3]
              .filter((j) => j < size.getObjects)
              .map(async (j) => {
                const key = `get-${size.bytes}-${j}`;
                const url = presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'PUT', bucket, key });
                const put = await send(agent, 'PUT', url, bytesFor(size.bytes, j));
                if (put.status !== 200) throw new Error(`PUT ${key} answered ${put.status}`);
              }),
          );
        }
      }
    }
  } finally {
    agent.destroy();
  }
}

export async function compare(options: {
  contenders: Contender[];
  sizes: CompareSize[];
  ops: ('PUT' | 'GET' | 'HEAD')[];
  concurrency: number[];
  repeats: number;
  seconds: number;
  driver: Driver;
  /** How the loads are signed: presigned URLs (the default), or SigV4 headers over the payload's hash, as an SDK signs. */
  signing?: 'presigned' | 'header';
  onProgress?: (text: string) => void;
}): Promise<CompareCell[]> {
  const { contenders, repeats } = options;
  const cells: CompareCell[] = [];
  const bodyDir = await mkdtemp(join(tmpdir(), 'tessera-compare-'));
  try {
    for (const size of options.sizes) {
      const body = bytesFor(size.bytes, 1_000_000);
      const bodyFile = join(bodyDir, `body-${size.bytes}`);
      await writeFile(bodyFile, body);
      // See bench/http.ts: wrk would drop the many-second requests still in flight at its deadline.
      const sizeDriver: Driver = size.bytes > 8 * 1024 * 1024 ? 'node' : options.driver;
      for (const concurrency of options.concurrency) {
        for (const op of options.ops) {
          const runs = new Map<string, { load: LoadResult; cpuCores: number; eldP99Ms: number }[]>();
          for (let r = 0; r < repeats; r++) {
            for (const { name, server } of contenders) {
              const header = options.signing === 'header';
              const urlOf = (key: string) => (header ? `${server.url}/${bucket}/${key}` : presignUrl({ endpoint: server.url, credentials: server.credentials, method: op, bucket, key }));
              const urls =
                op === 'PUT'
                  ? Array.from({ length: size.putKeys }, (_, i) => urlOf(`put-${size.bytes}-${i}`))
                  : Array.from({ length: size.getObjects }, (_, i) => urlOf(`get-${size.bytes}-${i}`));
              // Signed just before the phase, so the signatures' dates are fresh and signing takes no load time.
              const payloadSha256Hex = op === 'PUT' ? createHash('sha256').update(body).digest('hex') : emptySha256Hex;
              const headers = header ? urls.map((url) => signedHeaders({ method: op, url, credentials: server.credentials, payloadSha256Hex })) : undefined;
              await server.mark();
              // wrk cannot do HEAD: it waits for the body Content-Length announces.
              const driver: Driver = op === 'HEAD' ? 'node' : sizeDriver;
              const load = await runLoad(driver, {
                method: op,
                urls,
                ...(headers ? { headers } : {}),
                concurrency,
                durationMs: options.seconds * 1000,
                ...(op === 'PUT' ? { body, bodyFile } : op === 'GET' ? { expectBytes: size.bytes } : {}),
              });
              const stats = await server.read();
              if (load.errors > 0 || load.ops === 0) throw new Error(`${name} ${op} ${size.label} c=${concurrency}: ${load.ops} ops, ${load.errors} errors (${load.firstError})`);
              const list = runs.get(name) ?? [];
              list.push({ load, cpuCores: stats.cpuCores, eldP99Ms: stats.eld.p99Ms });
              runs.set(name, list);
            }
          }
          for (const { name } of contenders) {
            const list = runs.get(name)!;
            const rate = (l: LoadResult) => l.ops / l.seconds;
            const opsPerSecond = median(list.map((x) => rate(x.load)));
            cells.push({
              contender: name,
              op,
              size: size.label,
              bytes: size.bytes,
              concurrency,
              opsPerSecond,
              mibPerSecond: (opsPerSecond * size.bytes) / 2 ** 20,
              p50Ms: median(list.map((x) => x.load.p50Ms)),
              p99Ms: median(list.map((x) => x.load.p99Ms)),
              serverCpuMsPerOp: median(list.map((x) => (x.cpuCores * 1000) / rate(x.load))),
              eldP99Ms: median(list.map((x) => x.eldP99Ms)),
            });
          }
          options.onProgress?.(`${op} ${size.label} c=${concurrency}`);
        }
      }
    }
  } finally {
    await rm(bodyDir, { recursive: true, force: true });
  }
  return cells;
}
