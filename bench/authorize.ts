// Cost of authorization on the small GET: 4 KiB presigned GETs by the root, first with no bucket policy
// (the root-only path: one cached bucket lookup), then with a bucket policy of four statements that the
// evaluator must walk (Deny statements with IP, TLS and time conditions that do not match, an Allow for
// another principal) or find its decision cached. Alternated --rounds times; ops/s and server CPU per GET
// of each round, then the median of each mode.
// Run: npm run build && npx tsx bench/authorize.ts [--seconds 5] [--rounds 2] [--client wrk|node]
import { CreateBucketCommand, DeleteBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runLoad, wrkAvailable, type Driver } from './lib/load.js';
import { presignUrl } from './lib/presign.js';
import { startBenchServer } from './lib/server.js';

const bucket = 'bench';
const objects = 64;
const bytes = 4096;

const policy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'NoForeignIp', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } },
    { Sid: 'TlsOnlyElsewhere', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/tls/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    { Sid: 'Alice', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/alice' }, Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] },
    { Sid: 'NotYet', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { DateLessThan: { 'aws:CurrentTime': '2001-01-01T00:00:00Z' } } },
  ],
});

// The same four statements, the last matching the time as a string: its decision changes every
// millisecond as far as the decision cache knows, so every GET walks the policy (the path before the cache).
const uncachedPolicy = policy.replace('{"DateLessThan":{"aws:CurrentTime":"2001-01-01T00:00:00Z"}}', '{"StringLike":{"aws:CurrentTime":"2001-*"}}');

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const seconds = Number(argValue('--seconds') ?? '5');
  const rounds = Number(argValue('--rounds') ?? '2');
  const driver = (argValue('--client') ?? (wrkAvailable() ? 'wrk' : 'node')) as Driver;
  const server = await startBenchServer();
  try {
    const s3 = new S3Client({ endpoint: server.url, region: server.credentials.region, forcePathStyle: true, credentials: server.credentials });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = Buffer.alloc(bytes, 7);
    for (let i = 0; i < objects; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `o-${i}`, Body: body }));
    const urls = Array.from({ length: objects }, (_, i) => presignUrl({ endpoint: server.url, credentials: server.credentials, method: 'GET', bucket, key: `o-${i}` }));
    const modes = ['no bucket policy', 'bucket policy, 4 statements', 'same, never cached'] as const;
    if (uncachedPolicy === policy) throw new Error('The uncached policy is the same as the cached one');
    process.stdout.write(`4 KiB presigned GET by the root, concurrency 16, ${seconds} s per run, ${driver}\n`);
    // Not reported: the JIT and the caches warm up on the first seconds of load.
    await runLoad(driver, { method: 'GET', urls, concurrency: 16, durationMs: 3000, expectBytes: bytes });
    const cpu = new Map<string, number[]>(modes.map((m) => [m, []]));
    const rates = new Map<string, number[]>(modes.map((m) => [m, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const mode of modes) {
        if (mode === modes[0]) await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
        else await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: mode === modes[1] ? policy : uncachedPolicy }));
        await server.mark(mode);
        const r = await runLoad(driver, { method: 'GET', urls, concurrency: 16, durationMs: seconds * 1000, expectBytes: bytes });
        const stats = await server.read();
        const opsPerSecond = r.ops / r.seconds;
        const cpuUsPerOp = (stats.cpuCores * 1e6) / opsPerSecond;
        cpu.get(mode)!.push(cpuUsPerOp);
        rates.get(mode)!.push(opsPerSecond);
        process.stdout.write(`round ${round} ${mode.padEnd(28)} ${opsPerSecond.toFixed(0).padStart(6)} GET/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  server CPU ${cpuUsPerOp.toFixed(0)} µs/GET  errors ${r.errors}\n`);
      }
    }
    for (const mode of modes) process.stdout.write(`median ${mode.padEnd(28)} ${median(rates.get(mode)!).toFixed(0).padStart(6)} GET/s  server CPU ${median(cpu.get(mode)!).toFixed(0)} µs/GET\n`);
  } finally {
    await server.stop();
  }
}

await main();
