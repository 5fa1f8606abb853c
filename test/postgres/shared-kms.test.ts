// Two key services on one PostgreSQL MetaStore, each on its own connection as two gateways are: a key
// disabled, enabled or rotated through one is in force on the other within one poll, a key made on one is
// usable on the other at once, and a rewrap through one leaves the other opening everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { skipWithoutPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { PostgresMetaStore } from '../../src/meta/postgres/postgres-store.js';
import { LocalKeyService } from '../../src/kms/local-key-service.js';
import { RootKeyring } from '../../src/kms/root-key.js';
import { KmsError } from '../../src/kms/types.js';

const skip = skipWithoutPostgres();
let postgres: PostgresServer;
let stores: PostgresMetaStore[] = [];

if (!skip) {
  before(async () => {
    postgres = await startPostgres();
    const url = await postgres.createDatabase();
    stores = [await PostgresMetaStore.open({ url }), await PostgresMetaStore.open({ url })];
  });
  after(async () => {
    for (const store of stores) await store.close();
    await postgres?.cleanup();
  });
}

const pollMs = 50;
const context = { 'aws:s3:arn': 'arn:aws:s3:::b/k' };

/** Whether `kms` unwraps `wrapped` now; retried until `want` or 40 polls (a failure names what it saw last). */
async function opensWithin(kms: LocalKeyService, keyId: string, wrapped: string, want: boolean): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 40; i++) {
    last = await kms.decryptDataKey(keyId, wrapped, context).then(() => true, (err: unknown) => err);
    if ((last === true) === want) return;
    await delay(pollMs);
  }
  assert.fail(`Expected the key to ${want ? 'open' : 'be refused'} within 40 polls; last: ${String(last)}`);
}

test('LocalKeyService on PostgreSQL - a change through one process is in force on another within its poll', { skip }, async () => {
  const oldRoot = randomBytes(32);
  const [one, two] = stores.map((meta) => new LocalKeyService(meta, oldRoot, { region: 'us-east-1' }));
  two!.start(pollMs);
  try {
    await one!.create({ keyId: 'pg-key' });
    // Made on one, used on the other at once: absent keys are never cached.
    const dataKey = await two!.generateDataKey('pg-key', context);
    assert.deepEqual(await one!.decryptDataKey('pg-key', dataKey.wrapped, context), dataKey.plaintext);
    await one!.setEnabled('pg-key', false);
    await opensWithin(two!, 'pg-key', dataKey.wrapped, false);
    await assert.rejects(two!.generateDataKey('pg-key', context), (err: unknown) => err instanceof KmsError && err.code === 'DisabledException');
    await one!.setEnabled('pg-key', true);
    await opensWithin(two!, 'pg-key', dataKey.wrapped, true);
    await one!.rotate('pg-key');
    const rotated = await one!.generateDataKey('pg-key', context);
    await opensWithin(two!, 'pg-key', rotated.wrapped, true);
  } finally {
    two!.stop();
  }
});

test('LocalKeyService on PostgreSQL - a rewrap through one process, the other given both root keys keeps opening', { skip }, async () => {
  const [oldRoot, newRoot] = [randomBytes(32), randomBytes(32)];
  const before = new LocalKeyService(stores[0]!, oldRoot, { region: 'us-east-1' });
  await before.create({ keyId: 'pg-rewrap' });
  const dataKey = await before.generateDataKey('pg-rewrap', context);
  const [one, two] = stores.map((meta) => new LocalKeyService(meta, new RootKeyring(newRoot, [oldRoot]), { region: 'us-east-1' }));
  two!.start(pollMs);
  try {
    await opensWithin(two!, 'pg-rewrap', dataKey.wrapped, true);
    assert.ok((await one!.rewrap()).versionsResealed >= 1);
    await delay(3 * pollMs);
    await opensWithin(two!, 'pg-rewrap', dataKey.wrapped, true);
    await opensWithin(new LocalKeyService(stores[1]!, newRoot, { region: 'us-east-1' }), 'pg-rewrap', dataKey.wrapped, true);
  } finally {
    two!.stop();
  }
});
