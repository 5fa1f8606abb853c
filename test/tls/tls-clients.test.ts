// TLS on the S3 endpoint, as users meet it: `tessera tls init` makes a private CA and a certificate, the
// server serves HTTPS with them, and the real clients (SDK v3, aws CLI, boto3, rclone, s3cmd) verify it
// with the CA and refuse it without. A SIGHUP reload swaps the certificate for new handshakes while a
// connection already open keeps working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { clientEnv, clients, describeRun, makeTempDir, rcloneClientEnv, removeDir, run, skipUnlessInstalled, skipUnlessPythonModule } from '../clients/lib.js';

const skip = skipUnlessInstalled('/usr/bin/openssl', clients.aws, clients.rclone, clients.s3cmd) || skipUnlessPythonModule('boto3');
const bucket = 'tls-bucket';
const tessera = join(repoRoot, 'bin', 'tessera.js');
const exec = promisify(execFile);

let server: TesseraProcess;
let work: string;
let tlsDir: string;
let ca: Buffer;

before(async () => {
  if (skip) return;
  work = await makeTempDir('tls');
  tlsDir = join(work, 'tls');
  const made = await exec(process.execPath, [tessera, 'tls', 'init', '--dir', tlsDir, '--hosts', 'localhost,127.0.0.1']);
  assert.match(made.stdout, /Made a new CA/);
  ca = await readFile(join(tlsDir, 'ca.pem'));
  server = await startTessera({ args: ['--tls-cert', join(tlsDir, 'server.pem'), '--tls-key', join(tlsDir, 'server.key')] });
  await mkdir(join(work, 'home'));
});

after(async () => {
  if (skip) return;
  await server?.cleanup();
  if (work) await removeDir(work);
});

function sdk(trust: Buffer | undefined): S3Client {
  return new S3Client({
    endpoint: server.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent(trust ? { ca: trust } : {}) }),
  });
}

function awsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return clientEnv(join(work, 'home'), {
    AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: join(work, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
    ...extra,
  });
}

test('TLS - the server prints an https endpoint and the SDK v3 works through it trusting the CA, and refuses it without', { skip }, async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const trusting = sdk(ca);
  try {
    await trusting.send(new CreateBucketCommand({ Bucket: bucket }));
    await trusting.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk.txt', Body: 'over TLS' }));
    const got = await trusting.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk.txt' }));
    assert.equal(await got.Body!.transformToString(), 'over TLS');
  } finally {
    trusting.destroy();
  }
  const untrusting = sdk(undefined);
  try {
    await assert.rejects(untrusting.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk.txt' })), (err: Error & { code?: string }) => {
      assert.match(`${err.code} ${err.message}`, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED/);
      return true;
    });
  } finally {
    untrusting.destroy();
  }
});

test('TLS - the aws CLI uploads and downloads with --ca-bundle, and fails certificate validation without it', { skip, timeout: 120_000 }, async () => {
  await writeFile(join(work, 'cli.txt'), 'from the aws CLI');
  const aws = (args: string[]) => run(clients.aws, ['--endpoint-url', server.url, ...args], { env: awsEnv(), cwd: work });
  const up = await aws(['--ca-bundle', join(tlsDir, 'ca.pem'), 's3', 'cp', join(work, 'cli.txt'), `s3://${bucket}/cli.txt`]);
  assert.equal(up.code, 0, describeRun('aws s3 cp up', up));
  const down = await aws(['--ca-bundle', join(tlsDir, 'ca.pem'), 's3', 'cp', `s3://${bucket}/cli.txt`, join(work, 'cli.down')]);
  assert.equal(down.code, 0, describeRun('aws s3 cp down', down));
  assert.equal(await readFile(join(work, 'cli.down'), 'utf8'), 'from the aws CLI');
  const refused = await aws(['s3', 'ls', `s3://${bucket}/`]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /CERTIFICATE_VERIFY_FAILED|SSL validation failed/);
});

test('TLS - boto3 with verify= the CA reads what the SDK wrote', { skip, timeout: 60_000 }, async () => {
  const script = [
    'import boto3, sys',
    's3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2])',
    'print(s3.get_object(Bucket=sys.argv[3], Key="sdk.txt")["Body"].read().decode())',
  ].join('\n');
  const r = await run(clients.python3, ['-c', script, server.url, join(tlsDir, 'ca.pem'), bucket], { env: awsEnv(), cwd: work });
  assert.equal(r.code, 0, describeRun('boto3', r));
  assert.equal(r.stdout.trim(), 'over TLS');
});

test('TLS - rclone with --ca-cert and s3cmd with --ca-certs copy over HTTPS', { skip, timeout: 120_000 }, async () => {
  await writeFile(join(work, 'rclone.txt'), 'from rclone');
  const rcloneEnv = rcloneClientEnv(join(work, 'home'), server);
  await writeFile(join(work, 'rclone.conf'), '');
  const rc = await run(clients.rclone, ['--config', join(work, 'rclone.conf'), '--ca-cert', join(tlsDir, 'ca.pem'), '--retries', '1', 'copyto', join(work, 'rclone.txt'), `t:${bucket}/rclone.txt`], { env: rcloneEnv, cwd: work });
  assert.equal(rc.code, 0, describeRun('rclone copyto', rc));
  const hostPort = `127.0.0.1:${server.port}`;
  const s3cfg = join(work, 'home', '.s3cfg');
  await writeFile(s3cfg, ['[default]', `access_key = ${server.accessKeyId}`, `secret_key = ${server.secretAccessKey}`, `host_base = ${hostPort}`,
    `host_bucket = ${hostPort}`, 'use_https = True', 'signature_v2 = False', 'bucket_location = us-east-1', ''].join('\n'));
  const got = await run(clients.s3cmd, ['-c', s3cfg, '--no-progress', '--ca-certs', join(tlsDir, 'ca.pem'), 'get', `s3://${bucket}/rclone.txt`, join(work, 'rclone.down')], { env: clientEnv(join(work, 'home')), cwd: work });
  assert.equal(got.code, 0, describeRun('s3cmd get', got));
  assert.equal(await readFile(join(work, 'rclone.down'), 'utf8'), 'from rclone');
});

/** The serial number of the certificate a new TLS handshake with the server gets. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, ca }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A GET of / (ListBuckets, unsigned: 403) through `agent`, resolving with the status and the socket used. */
function getThrough(agent: Agent): Promise<{ status: number; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/`, { agent }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode!, socket: req.socket }));
    });
    req.once('error', reject);
    req.end();
  });
}

test('TLS - SIGHUP loads a renewed certificate for new connections; an open connection keeps working and the server stays up', { skip, timeout: 60_000 }, async () => {
  const before = await servedSerial();
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 1 });
  try {
    const first = await getThrough(agent);
    assert.equal(first.status, 403);
    await exec(process.execPath, [tessera, 'tls', 'cert', '--dir', tlsDir, '--name', 'renewed', '--hosts', '127.0.0.1']);
    await copyFile(join(tlsDir, 'renewed.pem'), join(tlsDir, 'server.pem'));
    await copyFile(join(tlsDir, 'renewed.key'), join(tlsDir, 'server.key'));
    const renewed = new X509Certificate(await readFile(join(tlsDir, 'renewed.pem'))).serialNumber;
    assert.notEqual(renewed, before);
    server.process.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!server.logs().includes('Reloaded the TLS certificate') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await servedSerial(), renewed);
    const second = await getThrough(agent);
    assert.equal(second.status, 403);
    assert.equal(second.socket, first.socket, 'the keep-alive connection opened before the reload was reused');
    // A renewal that is not a certificate leaves the served one in place.
    await writeFile(join(tlsDir, 'server.pem'), 'not a certificate');
    server.process.kill('SIGHUP');
    const warned = Date.now() + 10_000;
    while (!server.logs().includes('Kept the old TLS certificate') && Date.now() < warned) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await servedSerial(), renewed);
    assert.equal(server.process.exitCode, null, 'the server is still running');
  } finally {
    agent.destroy();
  }
});
