// dev-cluster's cluster.json stays whole when children exit together: saves run one at a time.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cluster, type ClusterFile } from './dev-cluster.js';

test('dev-cluster - saves at once (children exiting together) leave cluster.json whole and as it is last', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-devcluster-'));
  try {
    const path = join(dir, 'cluster.json');
    const file: ClusterFile = { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 's', clusterSecretFile: 'x', processes: [] };
    const cluster = new Cluster(path, file);
    for (let round = 0; round < 20; round++) {
      // Each save sees a longer or shorter file than the one before, as a child's exit entry comes and goes.
      const saves: Promise<void>[] = [];
      for (let i = 0; i < 8; i++) {
        file.processes = Array.from({ length: (round * 7 + i * 13) % 40 }, (_, n) => ({ name: `node${n}`, role: 'node', argv: ['x'.repeat(n * 5)], pid: n, running: i % 2 === 0 }) as unknown as ClusterFile['processes'][number]);
        saves.push(cluster.save());
      }
      await Promise.all(saves);
      assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), JSON.parse(JSON.stringify(file)), `round ${round}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
