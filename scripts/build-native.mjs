// Builds our N-API addons (native/*.c, listed in `addons` below) into native/build/NAME.node with `cc`
// against Node's headers (npm's "install" script runs it; `npm run build:native` too). Each addon is
// optional: when its compiler, headers or library are missing it warns in one line and the others still
// build, and the install exits 0. Tessera then does that addon's work in JavaScript or node:crypto.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * name: native/NAME.c → native/build/NAME.node. headers: system headers it needs, checked before the
 * build so the warning can name the Debian package (`needs`). libs: linker flags. without: what Tessera
 * does instead, for the warning.
 */
const addons = [
  {
    name: 'chunk_cipher',
    headers: ['openssl/evp.h'],
    libs: ['-lcrypto'],
    needs: 'libssl-dev',
    without: 'encrypted objects use node:crypto instead (slower)',
  },
  {
    name: 'shard_read',
    headers: ['isa-l/crc.h'],
    libs: ['-lisal'],
    needs: 'libisal-dev',
    without: 'shard reads are checked in JavaScript after the read instead (a second pass over the bytes)',
  },
  {
    name: 'file_sync',
    headers: [],
    libs: [],
    needs: 'gcc',
    without: 'written shard bytes stay in the page cache after their fsync (costlier writes where the cache grows)',
  },
  {
    name: 'md5_lanes',
    headers: [],
    libs: [],
    needs: 'gcc',
    without: "uploads' MD5 uses node:crypto instead, one stream at a time (slower under concurrent PUTs)",
  },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'native', 'build');
const compiler = process.env.CC || 'cc';

// Node's headers sit beside its binary (<prefix>/bin/node → <prefix>/include/node), as in Debian's nodejs
// and the official tarballs.
const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));

/** Builds one addon; returns why not, or undefined when built. */
function build(addon) {
  if (!nodeInclude) return "Node's headers (node_api.h) not found";
  const probe = spawnSync(compiler, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return `no C compiler "${compiler}"`;
  // Node's include directory carries its bundled OpenSSL's headers too: check that the system's are there
  // (and put Node's after them below), so an addon is compiled against the library it links.
  for (const header of addon.headers) {
    const found = spawnSync(compiler, ['-E', '-x', 'c', '-', '-o', '/dev/null'], { input: `#include <${header}>\n`, encoding: 'utf8' });
    if (found.status !== 0) return `the system header ${header} is missing: install ${addon.needs}`;
  }
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, `${addon.name}.node`);
  const partial = `${target}.${process.pid}.tmp`;
  const args = [
    '-O2', '-fPIC', '-shared', '-std=c11', '-Wall', '-Wextra', '-Werror', '-fvisibility=hidden',
    '-idirafter', nodeInclude, join(root, 'native', `${addon.name}.c`), '-o', partial, ...addon.libs,
  ];
  const built = spawnSync(compiler, args, { encoding: 'utf8' });
  if (built.status !== 0) {
    const firstError = `${built.stderr ?? ''}`.split('\n').find((line) => / error|cannot find/.test(line));
    if (/cannot find -l/.test(firstError ?? '')) return `a system library is missing: install ${addon.needs}`;
    return `cc failed: ${firstError ?? built.error?.message ?? 'unknown'}`;
  }
  renameSync(partial, target); // atomic: a running server never loads a half-written file
  return undefined;
}

for (const addon of addons) {
  const failure = build(addon);
  if (failure) console.warn(`tessera: native addon ${addon.name} not built (${failure}); ${addon.without}`);
  else console.log(`tessera: built native/build/${addon.name}.node`);
}
