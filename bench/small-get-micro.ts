// Micro-benchmark of the per-request CPU work on a small presigned GET that does not depend on the
// network: SigV4 authentication of a fixed presigned URL. Run: npx tsx bench/small-get-micro.ts
import { authenticate } from '../src/s3/sigv4/authenticate.js';
import { presignUrl } from './lib/presign.js';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' };
const nowMs = Date.now();
const url = new URL(presignUrl({ endpoint: 'http://127.0.0.1:9000', credentials, method: 'GET', bucket: 'bench', key: 'obj-000017', nowMs }));
const req = { method: 'GET', rawPath: url.pathname, rawQuery: url.search.slice(1), headers: { host: url.host, 'user-agent': 'wrk', accept: '*/*' } };
const config = { region: credentials.region, secretFor: () => credentials.secretAccessKey, nowMs: () => nowMs };

function run(iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (!authenticate(req, config)) throw new Error('Authentication failed');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

run(20_000); // warm up the JIT
const samples = [run(50_000), run(50_000), run(50_000)].sort((a, b) => a - b);
console.log(`authenticate presigned GET: ${samples[1]!.toFixed(2)} µs/op (min ${samples[0]!.toFixed(2)}, max ${samples[2]!.toFixed(2)})`);
