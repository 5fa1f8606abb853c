// Builds native/chunk_cipher.c into native/build/chunk_cipher.node with `cc` against Node's headers and the
// system libcrypto (npm's "install" script runs it). Without a compiler or headers it warns in one line and
// exits 0: Tessera then seals with node:crypto (src/util/gcm-chunks.ts), so an install never fails here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'chunk_cipher.c');
const outDir = join(root, 'native', 'build');
const target = join(outDir, 'chunk_cipher.node');

function skip(reason) {
  console.warn(`tessera: native AES-GCM not built (${reason}); encrypted objects use node:crypto instead (slower)`);
  process.exit(0);
}

// Node's headers sit beside its binary (<prefix>/bin/node → <prefix>/include/node), as in Debian's nodejs
// and the official tarballs.
const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
if (!nodeInclude) skip("Node's headers (node_api.h) not found");
const compiler = process.env.CC || 'cc';
const probe = spawnSync(compiler, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) skip(`no C compiler "${compiler}"`);

// Node's include directory carries its bundled OpenSSL's headers too: check that the system's are there (and
// put Node's after them below), so the addon is compiled against the libcrypto it links.
const headers = spawnSync(compiler, ['-E', '-x', 'c', '-', '-o', '/dev/null'], { input: '#include <openssl/evp.h>\n', encoding: 'utf8' });
if (headers.status !== 0) skip('the system libcrypto headers are missing: install libssl-dev');

mkdirSync(outDir, { recursive: true });
const partial = `${target}.${process.pid}.tmp`;
const args = [
  '-O2', '-fPIC', '-shared', '-std=c11', '-Wall', '-Wextra', '-Werror', '-fvisibility=hidden',
  '-idirafter', nodeInclude, source, '-o', partial, '-lcrypto',
];
const built = spawnSync(compiler, args, { encoding: 'utf8' });
if (built.status !== 0) {
  const firstError = `${built.stderr ?? ''}`.split('\n').find((line) => / error|cannot find/.test(line));
  skip(/-lcrypto|openssl\//.test(firstError ?? '') ? 'the system libcrypto is missing: install libssl-dev' : `cc failed: ${firstError ?? built.error?.message ?? 'unknown'}`);
}
renameSync(partial, target); // atomic: a running server never loads a half-written file
console.log(`tessera: built ${target.slice(root.length + 1)}`);
