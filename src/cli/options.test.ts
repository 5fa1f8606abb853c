import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { Command } from 'commander';
import { addSharedOptions, onOff, sharedConfig, type SharedFlags } from './options.js';

test('onOff - reads on/off (and true/false, 1/0) in any case, refuses the rest naming the flag', () => {
  for (const v of ['on', 'ON', ' true ', '1']) assert.equal(onOff('--sigv2', v), true);
  for (const v of ['off', 'Off', 'false', '0']) assert.equal(onOff('--sigv2', v), false);
  for (const v of ['', 'maybe', 'yes please']) assert.throws(() => onOff('--sigv2', v), /Cannot use --sigv2 ".*": expected on or off/);
});

function configOf(argv: string[]): ReturnType<typeof sharedConfig> {
  const cmd = addSharedOptions(new Command('server')).exitOverride();
  cmd.parse(argv, { from: 'user' });
  return sharedConfig(cmd.opts<SharedFlags>());
}

test('sharedConfig - the PostgreSQL pool flags reach the MetaStore options, defaults as the store had them; bad values refused', () => {
  assert.deepEqual(configOf([]).metaPostgres, { poolConnectionsMax: 10, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
  const tuned = configOf(['--meta-connections', '32', '--meta-connect-timeout', '1.5', '--meta-statement-timeout', '30']);
  assert.deepEqual(tuned.metaPostgres, { poolConnectionsMax: 32, connectTimeoutMs: 1500, statementTimeoutMs: 30_000 });
  assert.throws(() => configOf(['--meta-connections', '0']), /Cannot use --meta-connections "0": expected a whole number of at least 1/);
  assert.throws(() => configOf(['--meta-statement-timeout', 'soon']), /Cannot use --meta-statement-timeout "soon"/);
});

test('sharedConfig - --read-cache in MiB, auto the smaller of 128 MiB and 1/32 of the memory, 0 off; bad values refused', () => {
  const MiB = 1024 * 1024;
  const auto = Math.min(128 * MiB, Math.floor(totalmem() / 32 / MiB) * MiB);
  assert.equal(configOf([]).readCacheBytes, auto);
  assert.equal(configOf(['--read-cache', 'AUTO']).readCacheBytes, auto);
  assert.equal(configOf(['--read-cache', '512']).readCacheBytes, 512 * MiB);
  assert.equal(configOf(['--read-cache', '0.5']).readCacheBytes, MiB / 2);
  assert.equal(configOf(['--read-cache', '0']).readCacheBytes, 0);
  assert.throws(() => configOf(['--read-cache', 'lots']), /Cannot use --read-cache "lots": expected a non-negative number/);
  assert.throws(() => configOf(['--read-cache', '-1']), /Cannot use --read-cache "-1"/);
});
