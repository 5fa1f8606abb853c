// Runs every *.test.ts under src/ and test/ with node:test through tsx.
// Node 20's --test takes no globs, so the file list is built here.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...walk('src', []), ...walk('test', [])]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('No test files matched');
  process.exit(1);
}
// --test-force-exit: a test file whose tests are done ends even if something it started is still open
// (a test that failed before its cleanup), where the run used to hang until CI's time limit. The servers
// test/helpers/tessera.ts started are killed as that process exits.
// The servers the tests start run as one process each unless a test asks for more (`--workers 2`): the
// default (one worker per core) would double the processes of two test files running at once on a
// 2-core machine.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { TESSERA_WORKERS: '1', ...process.env } },
);
process.exit(result.status ?? 1);
