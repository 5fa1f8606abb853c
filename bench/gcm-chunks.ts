// The chunk cipher alone, no server: MiB/s and CPU ms/MiB of AES-256-GCM over 64 KiB chunks through node:crypto
// and through the native addon (util/gcm-chunks.ts), bare runs of 1 MiB into a reused output, and through the
// streaming layer (objects/chunk-cipher.ts sealChunks/openChunks) fed 1 MiB or 16 KiB pieces (a TLS socket's).
// A third row runs the same addon bound to the OpenSSL inside Node (a copy loaded without RTLD_DEEPBIND), to
// tell the libcrypto's speed from the calling pattern's.
// Run: npx tsx bench/gcm-chunks.ts [--mib 256] [--repeats 3]   (about 20 s at the defaults)
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText, median } from './lib/machine.js';
import { loadNativeGcmChunks, nativeAddonPath, nodeGcmChunks, type GcmChunks, type NativeBinding } from '../src/util/gcm-chunks.js';
import { openChunks, sealChunks, sealedRangeOf, sealedSizeOf } from '../src/objects/chunk-cipher.js';

const MiB = 2 ** 20;
const chunkBytes = 65536;
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const totalMib = flag('--mib', 256);
const repeats = flag('--repeats', 3);

const { native, reason } = loadNativeGcmChunks();
const ciphers: GcmChunks[] = [nodeGcmChunks, ...(native ? [native] : [])];
const key = { dataKey: randomBytes(32), partNumber: 1, chunkBytes };
const plain = randomBytes(MiB);
const sealed = Buffer.alloc(sealedSizeOf(MiB, chunkBytes));
nodeGcmChunks.seal({ ...key, firstIndex: 0, input: plain, out: sealed });

/** Wall MiB/s and process CPU ms/MiB of `fn` run once per MiB, the median of the repeats. */
async function measure(fn: () => Promise<void> | void): Promise<string> {
  const rates: number[] = [];
  const cpus: number[] = [];
  await fn(); // warm-up
  for (let r = 0; r < repeats; r++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < totalMib; i++) await fn();
    const used = process.cpuUsage(cpu);
    rates.push(totalMib / ((performance.now() - start) / 1000));
    cpus.push((used.user + used.system) / 1000 / totalMib);
  }
  return `${median(rates).toFixed(0).padStart(5)} MiB/s, ${median(cpus).toFixed(2)} CPU ms/MiB`;
}

async function* pieces(buf: Buffer, pieceBytes: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += pieceBytes) yield buf.subarray(at, at + pieceBytes);
}

async function drain(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const piece of source) void piece;
}

process.stdout.write(`date ${new Date().toISOString()}, load ${loadText()}, ${totalMib} MiB × ${repeats} per row, 64 KiB chunks, medians${native ? '' : ` (native: ${reason})`}\n`);
for (const cipher of ciphers) {
  const opened = Buffer.alloc(MiB);
  process.stdout.write(`${cipher.name.padEnd(11)} seal 1 MiB runs        : ${await measure(() => void cipher.seal({ ...key, firstIndex: 0, input: plain, out: sealed }))}\n`);
  process.stdout.write(`${cipher.name.padEnd(11)} open 1 MiB runs        : ${await measure(() => void cipher.open({ ...key, firstIndex: 0, input: sealed, out: opened }))}\n`);
  for (const pieceBytes of [MiB, 16 * 1024]) {
    const label = pieceBytes === MiB ? '1 MiB' : '16 KiB';
    const { storedEnd } = sealedRangeOf(MiB, chunkBytes, 0, MiB);
    process.stdout.write(`${cipher.name.padEnd(11)} sealChunks, ${label.padEnd(6)} pieces: ${await measure(() => drain(sealChunks(pieces(plain, pieceBytes), key, { cipher })))}\n`);
    process.stdout.write(`${cipher.name.padEnd(11)} openChunks, ${label.padEnd(6)} pieces: ${await measure(() => drain(openChunks(pieces(sealed.subarray(0, storedEnd), pieceBytes), key, MiB, 0, MiB, { cipher })))}\n`);
  }
}
if (native) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gcm-bundled-'));
  const copy = join(dir, 'chunk_cipher.node');
  copyFileSync(nativeAddonPath, copy);
  const module = { exports: {} as NativeBinding };
  process.dlopen(module, copy, constants.dlopen.RTLD_NOW);
  rmSync(dir, { recursive: true, force: true });
  const bundled = module.exports;
  const opened = Buffer.alloc(MiB);
  const label = `addon on ${bundled.libcrypto ?? '?'}'s OpenSSL`;
  process.stdout.write(`${label} seal 1 MiB runs: ${await measure(() => void bundled.seal(key.dataKey, 1, 0, chunkBytes, plain, sealed))}\n`);
  process.stdout.write(`${label} open 1 MiB runs: ${await measure(() => void bundled.open(key.dataKey, 1, 0, chunkBytes, sealed, opened))}\n`);
}
process.stdout.write(`load ${loadText()} at end\n`);
