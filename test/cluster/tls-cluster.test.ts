// `tessera dev-cluster --tls`: TLS on every hop. Clients reach the gateways through HAProxy over HTTPS, and
// the gateways reach the storage nodes over HTTPS checked against the cluster's CA; an object written and
// read through that path comes back exactly, and a node answers nothing over plain HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startDevCluster } from './helpers.js';
import { skipUnlessInstalled } from '../clients/lib.js';

const skip = skipUnlessInstalled('/usr/bin/openssl', '/usr/sbin/haproxy', '/usr/lib/postgresql');

/** The issuer of the certificate the TLS server at `address` presents, checked against `ca`. */
function peerIssuer(address: string, ca: Buffer): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca }, () => {
      resolve(socket.getPeerX509Certificate()!.issuer);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A plain-HTTP request to a TLS listener: it gets no HTTP answer (the node speaks TLS only). */
function plainHttpStatus(address: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`http://${address}/rpc/v1/node`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.end();
  });
}

test('dev-cluster --tls - an object goes client → HAProxy → gateway → nodes over TLS and back exactly', { skip, timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-tls-cluster-'));
  await chmod(dir, 0o755); // PostgreSQL runs as its own user and must reach DIR/postgres
  const cluster = await startDevCluster(dir, ['--nodes', '3', '--gateways', '2', '--postgres', '--address', '127.0.0.1:0', '--tls']);
  try {
    const file = await cluster.file();
    assert.match(file.endpoint, /^https:\/\//);
    assert.ok(file.caBundle);
    const ca = await readFile(file.caBundle);
    for (const p of file.processes.filter((x) => x.role === 'node' || x.role === 'gateway')) {
      assert.match(await peerIssuer(p.address, ca), /Tessera private CA/, `${p.name} serves a certificate of the cluster's CA`);
    }
    const node = file.processes.find((p) => p.role === 'node')!;
    assert.notEqual(await plainHttpStatus(node.address), 200);
    const s3 = await cluster.client();
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'tls' }));
      const data = randomBytes(3 * 1024 * 1024 + 17);
      await s3.send(new PutObjectCommand({ Bucket: 'tls', Key: 'big', Body: data }));
      for (let i = 0; i < 2; i++) {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'tls', Key: 'big' }));
        assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
      }
    } finally {
      s3.destroy();
    }
    assert.equal(await cluster.stop(), 0);
  } finally {
    await cluster.killAll();
    await rm(dir, { recursive: true, force: true });
  }
});
