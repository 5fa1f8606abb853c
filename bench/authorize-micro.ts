// Micro-benchmark of the policy evaluator alone: one decision for a user with three identity policies
// and a four-statement bucket policy, and for the root against the same bucket policy; then the same
// decisions found in the DecisionCache (its key built and its condition values compared, as authorize.ts does).
// Run: npx tsx bench/authorize-micro.ts
import { evaluate, type AccessInputs, type AccessRequest } from '../src/iam/evaluate.js';
import { parsePolicy, accountRootArn } from '../src/iam/policy.js';
import { DecisionCache } from '../src/iam/decision-cache.js';

const bucketPolicy = parsePolicy(JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::bench/*', Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } },
    { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::bench/tls/*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/bob' }, Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::bench', 'arn:aws:s3:::bench/*'] },
    { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bench/*', Condition: { DateLessThan: { 'aws:CurrentTime': '2001-01-01T00:00:00Z' } } },
  ],
}), { kind: 'bucket', bucket: 'bench' });
const identityDocs = [
  { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::bench', Condition: { StringLike: { 's3:prefix': 'home/${aws:username}/*' } } }] },
  { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:Get*', 's3:PutObject'], Resource: 'arn:aws:s3:::bench/home/${aws:username}/*' }] },
  { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject*', Resource: '*' }] },
].map((d) => JSON.stringify(d));
const identityPolicies = identityDocs.map((d) => parsePolicy(d, { kind: 'identity' }));
const values = (key: string): readonly string[] | undefined => {
  switch (key) {
    case 'aws:sourceip': return ['127.0.0.1'];
    case 'aws:securetransport': return ['false'];
    case 'aws:currenttime': return [new Date().toISOString()];
    case 'aws:username': return ['alice'];
    default: return undefined;
  }
};
const inputs: AccessInputs = { identityPolicies, bucketPolicy, bucketPolicyPublic: false, publicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } };
const userRequest: AccessRequest = { identity: { kind: 'user', accessKeyId: 'K', userName: 'alice', userId: 'AIDAALICE', arn: 'arn:aws:iam::000000000000:user/alice', policies: identityDocs }, action: 's3:GetObject', resource: 'arn:aws:s3:::bench/home/alice/o-17', values };
const rootRequest: AccessRequest = { identity: { kind: 'root', accessKeyId: 'R', arn: accountRootArn }, action: 's3:GetObject', resource: 'arn:aws:s3:::bench/o-17', values };

const cache = new DecisionCache(1000);
const scopeBucket = {};
const scopeStore = {};

function cached(request: AccessRequest): string | undefined {
  const key = cache.keyOf([request.identity, scopeBucket, scopeStore], request.action, request.resource);
  return cache.lookup(key, request.values, Date.now()) ?? cache.evaluate(key, request, inputs);
}

function run(request: AccessRequest, iterations: number, decide: (r: AccessRequest) => string | undefined = (r) => evaluate(r, inputs)): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (decide(request) !== 'allow') throw new Error('Refused');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

for (const [label, request] of [['user, 3 identity policies + bucket policy', userRequest], ['root, bucket policy', rootRequest]] as const) {
  run(request, 20_000);
  const samples = [run(request, 100_000), run(request, 100_000), run(request, 100_000)].sort((a, b) => a - b);
  console.log(`evaluate (${label}): ${samples[1]!.toFixed(2)} µs/op (min ${samples[0]!.toFixed(2)}, max ${samples[2]!.toFixed(2)})`);
  run(request, 20_000, cached);
  const hits = [run(request, 100_000, cached), run(request, 100_000, cached), run(request, 100_000, cached)].sort((a, b) => a - b);
  console.log(`cached (${label}): ${hits[1]!.toFixed(2)} µs/op (min ${hits[0]!.toFixed(2)}, max ${hits[2]!.toFixed(2)})`);
}
