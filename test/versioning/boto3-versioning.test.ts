// boto3 (Debian's python3-boto3, default settings) against a real server (issue 4): versions, reads by
// VersionId, delete markers, the Suspended null version, paginated ListObjectVersions and DeleteObjects.
// The scenario lives in scripts/versioning_scenario.py and prints a JSON summary asserted on here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTessera } from '../helpers/tessera.js';

// Debian's interpreter by absolute path: a pyenv python3 without boto3 may come first on PATH.
const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'scripts', 'versioning_scenario.py');
const skip = existsSync(python) ? false : `${python} is not installed`;

const server = await startTessera();
after(() => server.cleanup());

interface Brief {
  key: string;
  versionId: string;
  isLatest: boolean;
}
interface Listed {
  versions: Brief[];
  markers: Brief[];
}
interface ErrorSeen {
  code: string;
  status: number;
  deleteMarker: string | null;
  versionId: string | null;
}

function runScenario(bucket: string): Promise<Record<string, unknown>> {
  // Only what boto3 needs: no AWS_* variables or config files from the environment can change its behaviour.
  const env = { PATH: '/usr/bin:/bin', HOME: server.dataDir, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true' };
  return new Promise((resolve, reject) => {
    execFile(python, [script, server.url, server.accessKeyId, server.secretAccessKey, server.region, bucket], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      let summary: Record<string, unknown>;
      try {
        summary = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        reject(new Error(`The boto3 scenario printed no JSON (${err?.message ?? 'exit 0'}): ${stdout}\n${stderr}`));
        return;
      }
      if (summary.error !== undefined) reject(new Error(`The boto3 scenario failed: ${String(summary.trace)}`));
      else resolve(summary);
    });
  });
}

test('boto3 - versioning scenario', { skip }, async () => {
  const s = await runScenario('boto3-versioning');
  assert.equal(s.initialStatus, null);
  assert.equal(s.enabledStatus, 'Enabled');

  const ids = s.putVersionIds as string[];
  assert.equal(new Set(ids).size, 3);
  assert.deepEqual(s.bodiesById, ['v0', 'v1', 'v2']);
  assert.equal(s.headVersionId, ids[2]);
  assert.deepEqual(s.listedAfterPuts, {
    versions: [ids[2], ids[1], ids[0]].map((versionId, i) => ({ key: 'doc.txt', versionId, isLatest: i === 0 })),
    markers: [],
  });

  const copy = s.copy as { versionId: string; copySourceVersionId: string; body: string };
  assert.ok(copy.versionId && !ids.includes(copy.versionId));
  assert.equal(copy.copySourceVersionId, ids[0]);
  assert.equal(copy.body, 'v0');

  const marker = s.deleteMarker as { deleteMarker: boolean; versionId: string };
  assert.equal(marker.deleteMarker, true);
  assert.ok(marker.versionId && !ids.includes(marker.versionId));
  assert.deepEqual(s.getDeleted, { code: 'NoSuchKey', status: 404, deleteMarker: 'true', versionId: marker.versionId });
  assert.equal((s.headMarkerById as ErrorSeen).status, 405);
  assert.deepEqual(s.getMarkerById, { code: 'MethodNotAllowed', status: 405, deleteMarker: 'true', versionId: marker.versionId });
  assert.deepEqual(s.listV2AfterDelete, ['copy.txt']);
  const afterDelete = s.listedAfterDelete as Listed;
  assert.deepEqual(afterDelete.markers, [{ key: 'doc.txt', versionId: marker.versionId, isLatest: true }]);
  assert.deepEqual(afterDelete.versions.map((v) => v.isLatest), [false, false, false]);

  assert.deepEqual(s.removeMarker, { deleteMarker: true, versionId: marker.versionId });
  assert.equal(s.bodyAfterRestore, 'v2');
  assert.equal(s.bodyAfterVersionDelete, 'v1');
  assert.equal((s.getRemovedVersion as ErrorSeen).code, 'NoSuchVersion');

  assert.equal(s.suspendedStatus, 'Suspended');
  assert.equal(s.suspendedPutVersionId, null);
  assert.equal(s.nullBody, 'null-2');
  assert.equal(s.nullGetVersionId, 'null');
  assert.deepEqual(s.listedSuspended, {
    versions: [
      { key: 'doc.txt', versionId: 'null', isLatest: true },
      { key: 'doc.txt', versionId: ids[1], isLatest: false },
      { key: 'doc.txt', versionId: ids[0], isLatest: false },
    ],
    markers: [],
  });
  assert.deepEqual(s.suspendedDelete, { deleteMarker: true, versionId: 'null' });
  assert.deepEqual(s.listedSuspendedDelete, {
    versions: [{ key: 'doc.txt', versionId: ids[1], isLatest: false }, { key: 'doc.txt', versionId: ids[0], isLatest: false }],
    markers: [{ key: 'doc.txt', versionId: 'null', isLatest: true }],
  });
  assert.equal(s.oldVersionStillThere, 'v1');

  assert.deepEqual(s.paginated, { pages: 3, entries: 12, distinct: 12, latest: ['p/a', 'p/b', 'p/c'] });

  const del = s.deleteObjects as {
    deleted: { Key: string; VersionId: string | null; DeleteMarker: boolean | null; DeleteMarkerVersionId: string | null }[];
    errors: unknown[];
    paVersionsLeft: number;
    pbAfter: Listed;
  };
  assert.deepEqual(del.errors, []);
  const [pa, pbMarker, pbRemoved] = del.deleted;
  assert.equal(pa!.Key, 'p/a');
  assert.ok(pa!.VersionId);
  assert.equal(pa!.DeleteMarker, null);
  assert.equal(pbMarker!.DeleteMarker, true);
  assert.ok(pbMarker!.DeleteMarkerVersionId);
  assert.deepEqual(pbRemoved, { Key: 'p/b', VersionId: pbMarker!.DeleteMarkerVersionId, DeleteMarker: true, DeleteMarkerVersionId: pbMarker!.DeleteMarkerVersionId });
  assert.equal(del.paVersionsLeft, 3);
  assert.deepEqual(del.pbAfter.markers, []);
  assert.equal(del.pbAfter.versions.length, 4);
  assert.equal(del.pbAfter.versions[0]!.isLatest, true);
});
