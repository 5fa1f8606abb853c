// The layer rule (shared/design.md "Layers", docs/architecture.md), checked mechanically: each layer of
// src/ imports only the layers below it. The admin module sits beside s3, not under or inside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(import.meta.dirname, '..', 'src');
const low = ['util', 'constants.ts'];
/** What each layer may import besides itself. */
const allowed: Record<string, string[]> = {
  'constants.ts': [],
  'util': ['constants.ts'],
  'cluster': low,
  'meta': low,
  'blocks': [...low, 'cluster'],
  'objects': [...low, 'cluster', 'blocks', 'meta', 'iam', 'kms'],
  'workers': [...low, 'cluster', 'blocks', 'meta', 'objects', 'iam', 'kms'],
  // Identity and access: the shapes objects' records carry, and users and keys over the MetaStore.
  'iam': [...low, 'meta'],
  // Key services (SSE): master keys over the MetaStore, or an external KMS; objects asks them for data keys.
  'kms': [...low, 'meta', 'iam'],
  's3': [...low, 'cluster', 'blocks', 'meta', 'objects', 'iam', 'kms'],
  'admin': [...low, 'cluster', 'blocks', 'meta', 'objects', 'workers', 'iam', 'kms'],
  'node': [...low, 'cluster', 'blocks'],
  'roles': [...low, 'cluster', 'blocks', 'meta', 'objects', 'workers', 'iam', 'kms', 's3', 'admin', 'node'],
  'main.ts': ['roles'],
  'cli': [...low, 'cluster', 'blocks', 'meta', 'objects', 'workers', 'iam', 'kms', 's3', 'admin', 'node', 'roles', 'main.ts'],
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'test-helpers.ts') out.push(path);
  }
  return out;
}

test('layers - every module of src imports only its own layer and the layers below it', () => {
  const broken: string[] = [];
  for (const file of sources(src)) {
    const layer = relative(src, file).split('/')[0]!;
    const mayImport = allowed[layer];
    assert.ok(mayImport, `layer "${layer}" is missing from this test's table`);
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
      const target = relative(src, resolve(dirname(file), m[1]!)).split('/')[0]!.replace(/\.js$/, '.ts');
      if (target !== layer && !mayImport.includes(target)) broken.push(`${relative(src, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(broken, []);
});
