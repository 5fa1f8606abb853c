// Micro-benchmark of the per-request CPU work on a small GET that does not depend on the network: SigV4
// authentication of a fixed presigned URL, and of a fixed header-signed request (x-amz-content-sha256 the
// empty body's hash, as an SDK signs a GET); and the SSE-C header look-ups of a GET that has none.
// Run: npx tsx bench/small-get-micro.ts
import { IncomingMessage } from 'node:http';
import { authenticate, type SignedRequest } from '../src/s3/sigv4/authenticate.js';
import { customerKeyOf } from '../src/s3/sse-headers.js';
import type { RequestContext } from '../src/s3/context.js';
import { presignUrl } from './lib/presign.js';
import { emptySha256Hex, signedHeaders } from './lib/sigv4.js';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' };
const nowMs = Date.now();
const url = new URL(presignUrl({ endpoint: 'http://127.0.0.1:9000', credentials, method: 'GET', bucket: 'bench', key: 'obj-000017', nowMs }));
const presigned = { method: 'GET', rawPath: url.pathname, rawQuery: url.search.slice(1), headers: { host: url.host, 'user-agent': 'wrk', accept: '*/*' } };
const plain = 'http://127.0.0.1:9000/bench/obj-000017';
const headerSigned = {
  method: 'GET', rawPath: '/bench/obj-000017', rawQuery: '',
  headers: { host: '127.0.0.1:9000', ...signedHeaders({ method: 'GET', url: plain, credentials, payloadSha256Hex: emptySha256Hex, nowMs }) },
};
const config = { region: credentials.region, secretFor: () => credentials.secretAccessKey, nowMs: () => nowMs };

function run(req: SignedRequest, iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (!authenticate(req, config)) throw new Error('Authentication failed');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

for (const [name, req] of [['presigned GET', presigned], ['header-signed GET', headerSigned]] as const) {
  run(req, 20_000); // warm up the JIT
  const samples = [run(req, 50_000), run(req, 50_000), run(req, 50_000)].sort((a, b) => a - b);
  console.log(`authenticate ${name}: ${samples[1]!.toFixed(2)} µs/op (min ${samples[0]!.toFixed(2)}, max ${samples[2]!.toFixed(2)})`);
}

// Requests as Node's parser hands them over (req.headers built from rawHeaders on first use), 256 of them
// so no look-up is answered from one object's inline cache alone.
const contexts = Array.from({ length: 256 }, () => {
  const req = new IncomingMessage(null as never);
  req.rawHeaders = Object.entries(headerSigned.headers).flat();
  void req.headers;
  return { req } as RequestContext;
});

function runCustomerKey(iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (customerKeyOf(contexts[i & 255]!) !== undefined) throw new Error('Found an SSE-C key');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}
runCustomerKey(200_000);
const customerSamples = [runCustomerKey(2_000_000), runCustomerKey(2_000_000), runCustomerKey(2_000_000)].sort((a, b) => a - b);
console.log(`customerKeyOf, GET without SSE-C: ${(customerSamples[1]! * 1000).toFixed(0)} ns/op (min ${(customerSamples[0]! * 1000).toFixed(0)}, max ${(customerSamples[2]! * 1000).toFixed(0)})`);
