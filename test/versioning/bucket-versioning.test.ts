// PutBucketVersioning and GetBucketVersioning (issue 4): unversioned → Enabled ⇄ Suspended, never back to
// unversioned, and MFA delete refused with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetBucketVersioningCommand, PutBucketVersioningCommand, type BucketVersioningStatus } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { createBucket, failure, rawRequest, setVersioning } from './helpers.js';

const { server, s3 } = await startTesseraForFile();

async function status(bucket: string): Promise<string | undefined> {
  return (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
}

test('bucket versioning - a new bucket reports no status, then Enabled and Suspended alternate', async () => {
  await createBucket(s3, 'vers-states');
  assert.equal(await status('vers-states'), undefined);
  const raw = await rawRequest(server, { path: '/vers-states', query: { versioning: '' } });
  assert.equal(raw.status, 200);
  assert.doesNotMatch(raw.body, /<Status>/);
  for (const next of ['Enabled', 'Suspended', 'Enabled', 'Enabled', 'Suspended', 'Suspended', 'Enabled'] as const) {
    await setVersioning(s3, 'vers-states', next);
    assert.equal(await status('vers-states'), next);
  }
});

test('bucket versioning - a versioned bucket cannot return to unversioned', async () => {
  await createBucket(s3, 'vers-no-return', 'Suspended');
  for (const bad of ['Disabled', 'Unversioned', 'enabled', '']) {
    const err = await failure(s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-no-return', VersioningConfiguration: { Status: bad as BucketVersioningStatus } })));
    assert.equal(err.status, 400, `status "${bad}"`);
    assert.ok(['IllegalVersioningConfigurationException', 'MalformedXML'].includes(err.name), err.name);
  }
  // A configuration without a Status changes nothing.
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-no-return', VersioningConfiguration: {} }));
  assert.equal(await status('vers-no-return'), 'Suspended');
});

test('bucket versioning - MFA delete is rejected clearly and changes nothing', async () => {
  await createBucket(s3, 'vers-mfa', 'Enabled');
  const err = await failure(s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-mfa', VersioningConfiguration: { Status: 'Suspended', MFADelete: 'Enabled' } })));
  assert.equal(err.status, 501);
  assert.equal(err.name, 'NotImplemented');
  const withHeader = await failure(s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-mfa', MFA: '20899872 301749', VersioningConfiguration: { Status: 'Suspended' } })));
  assert.equal(withHeader.status, 501);
  assert.equal(await status('vers-mfa'), 'Enabled');
  // MfaDelete=Disabled is what every bucket has, so saying so is accepted.
  await s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-mfa', VersioningConfiguration: { Status: 'Suspended', MFADelete: 'Disabled' } }));
  assert.equal(await status('vers-mfa'), 'Suspended');
});

test('bucket versioning - the MFA error message names MFA delete', async () => {
  await createBucket(s3, 'vers-mfa-msg');
  try {
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-mfa-msg', VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } }));
    assert.fail('MFA delete was accepted');
  } catch (err) {
    assert.match((err as Error).message, /MFA/);
  }
  assert.equal(await status('vers-mfa-msg'), undefined);
});

test('bucket versioning - a missing bucket answers NoSuchBucket', async () => {
  assert.equal((await failure(s3.send(new GetBucketVersioningCommand({ Bucket: 'vers-missing' })))).name, 'NoSuchBucket');
  assert.equal((await failure(s3.send(new PutBucketVersioningCommand({ Bucket: 'vers-missing', VersioningConfiguration: { Status: 'Enabled' } })))).name, 'NoSuchBucket');
});
