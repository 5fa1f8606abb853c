// The pure Object Lock rules: when a version is locked, default retention dates, allowed retention changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newVersionLock, retentionChangeRefusal, retentionEndMs, versionLocked } from './lock-rules.js';
import type { BucketRecord } from './records.js';

const now = Date.UTC(2026, 11, 3, 12, 0, 0);
const later = now + 60_000;
const noBypass = { bypassGovernance: false };
const bypass = { bypassGovernance: true };

test('versionLocked - COMPLIANCE holds until its date, bypass or not, and not after', () => {
  const record = { retention: { mode: 'COMPLIANCE' as const, untilMs: later } };
  assert.equal(versionLocked(record, now, noBypass), true);
  assert.equal(versionLocked(record, now, bypass), true);
  assert.equal(versionLocked(record, later, bypass), false);
  assert.equal(versionLocked(record, later + 1, noBypass), false);
});

test('versionLocked - GOVERNANCE holds until its date unless bypassed', () => {
  const record = { retention: { mode: 'GOVERNANCE' as const, untilMs: later } };
  assert.equal(versionLocked(record, now, noBypass), true);
  assert.equal(versionLocked(record, now, bypass), false);
  assert.equal(versionLocked(record, later, noBypass), false);
});

test('versionLocked - a legal hold holds whatever the date and bypass', () => {
  assert.equal(versionLocked({ legalHold: true }, now, bypass), true);
  assert.equal(versionLocked({ legalHold: true, retention: { mode: 'GOVERNANCE', untilMs: now - 1 } }, now, bypass), true);
  assert.equal(versionLocked({}, now, noBypass), false);
});

test('retentionEndMs - days count whole days, years count calendar years in UTC', () => {
  assert.equal(retentionEndMs({ mode: 'GOVERNANCE', days: 2 }, now), now + 2 * 86_400_000);
  const leap = Date.UTC(2028, 1, 29);
  assert.equal(retentionEndMs({ mode: 'GOVERNANCE', years: 1 }, now), Date.UTC(2027, 11, 3, 12, 0, 0));
  assert.equal(new Date(retentionEndMs({ mode: 'COMPLIANCE', years: 1 }, leap)).toISOString(), '2029-03-01T00:00:00.000Z');
});

test('newVersionLock - the default retention applies when none is asked for, and never in a bucket without lock', () => {
  const bucket: BucketRecord = { name: 'b', createdMs: 0, owner: 'o', region: 'r', versioning: 'Enabled', objectLockEnabled: true, objectLockDefault: { mode: 'GOVERNANCE', days: 1 } };
  assert.deepEqual(newVersionLock(bucket, undefined, now), { retention: { mode: 'GOVERNANCE', untilMs: now + 86_400_000 } });
  assert.deepEqual(newVersionLock(bucket, { retention: { mode: 'COMPLIANCE', untilMs: later }, legalHold: false }, now), { retention: { mode: 'COMPLIANCE', untilMs: later }, legalHold: false });
  assert.deepEqual(newVersionLock({ ...bucket, objectLockEnabled: false }, { legalHold: true }, now), {});
});

test('retentionChangeRefusal - COMPLIANCE can only be extended, by anyone, until its date', () => {
  const current = { mode: 'COMPLIANCE' as const, untilMs: later };
  assert.equal(retentionChangeRefusal(current, { mode: 'COMPLIANCE', untilMs: later + 1 }, now, noBypass), undefined);
  assert.equal(retentionChangeRefusal(current, { mode: 'COMPLIANCE', untilMs: later }, now, noBypass), undefined);
  assert.notEqual(retentionChangeRefusal(current, { mode: 'COMPLIANCE', untilMs: later - 1 }, now, bypass), undefined);
  assert.notEqual(retentionChangeRefusal(current, { mode: 'GOVERNANCE', untilMs: later + 1 }, now, bypass), undefined);
  assert.notEqual(retentionChangeRefusal(current, undefined, now, bypass), undefined);
  assert.equal(retentionChangeRefusal(current, undefined, later, noBypass), undefined, 'a passed retention protects nothing');
});

test('retentionChangeRefusal - GOVERNANCE can be shortened, removed or made COMPLIANCE only with the bypass', () => {
  const current = { mode: 'GOVERNANCE' as const, untilMs: later };
  assert.equal(retentionChangeRefusal(current, { mode: 'GOVERNANCE', untilMs: later + 1 }, now, noBypass), undefined);
  for (const next of [{ mode: 'GOVERNANCE' as const, untilMs: later - 1 }, { mode: 'COMPLIANCE' as const, untilMs: later }, undefined]) {
    assert.notEqual(retentionChangeRefusal(current, next, now, noBypass), undefined);
    assert.equal(retentionChangeRefusal(current, next, now, bypass), undefined);
  }
});
