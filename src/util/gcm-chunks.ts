// AES-256-GCM over runs of equal chunks (objects/chunk-cipher.ts owns the format and the streaming): the
// native addon (native/chunk_cipher.c on the system libcrypto; ~3x node:crypto's speed, which pays a cipher and
// new buffers per chunk) when it loads, else node:crypto, byte for byte the same. Callers pass the output.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { assert } from './assert.js';

const tagBytes = 16;

/** One call's run: chunks firstIndex, firstIndex + 1, ... of one part, `input` whole chunks but the last. */
export interface GcmRun {
  dataKey: Uint8Array;
  partNumber: number;
  firstIndex: number;
  chunkBytes: number;
  input: Uint8Array;
  out: Uint8Array;
}

/**
 * A run to open: its sealed bytes as one buffer, or as pieces holding them in order (a reader's buffers), so
 * a chunk that straddles two pieces is opened from both without being gathered into one first.
 */
export interface GcmOpenRun extends Omit<GcmRun, 'input'> {
  input: Uint8Array | readonly Uint8Array[];
}

export interface GcmChunks {
  readonly name: 'native' | 'node:crypto';
  /** Seals `input` into `out` (each chunk's ciphertext then its tag); returns the bytes written. */
  seal(run: GcmRun): number;
  /**
   * Opens sealed `input` into `out`; returns the plaintext bytes, or -1 - k when chunk k of the run fails its
   * tag (or is too short to hold one): chunks before k are in `out`, chunk k's bytes are zeroed.
   */
  open(run: GcmOpenRun): number;
}

export interface NativeBinding {
  seal(key: Uint8Array, partNumber: number, firstIndex: number, chunkBytes: number, input: Uint8Array, out: Uint8Array): number;
  open(key: Uint8Array, partNumber: number, firstIndex: number, chunkBytes: number, input: Uint8Array | readonly Uint8Array[], out: Uint8Array): number;
  openssl: string;
  libcrypto?: string;
}

function nonceOf(partNumber: number, chunkIndex: number): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  nonce.writeUInt32BE(partNumber, 0);
  nonce.writeBigUInt64BE(BigInt(chunkIndex), 4);
  return nonce;
}

function chunkCountOf(inputBytes: number, unitBytes: number): number {
  return Math.ceil(inputBytes / unitBytes);
}

/** Reads consecutive byte ranges of a run given as pieces, as views (no copy unless a range straddles). */
class PieceCursor {
  private at = 0;
  private offset = 0;
  constructor(private readonly pieces: readonly Uint8Array[]) {}

  /** The next `length` bytes as views of the pieces they lie in. */
  next(length: number): Uint8Array[] {
    const views: Uint8Array[] = [];
    while (length > 0) {
      const piece = this.pieces[this.at];
      assert(piece !== undefined, 'A cursor reads within its pieces');
      const n = Math.min(piece.length - this.offset, length);
      if (n > 0) views.push(piece.subarray(this.offset, this.offset + n));
      length -= n;
      this.offset += n;
      if (this.offset === piece.length) {
        this.at++;
        this.offset = 0;
      }
    }
    return views;
  }
}

/** node:crypto: one cipher per chunk, each update's output copied into `out`. */
export const nodeGcmChunks: GcmChunks = {
  name: 'node:crypto',
  seal({ dataKey, partNumber, firstIndex, chunkBytes, input, out }) {
    const chunks = chunkCountOf(input.length, chunkBytes);
    assert(out.length >= input.length + chunks * tagBytes, 'A seal output holds the sealed run');
    let at = 0;
    for (let i = 0; i < chunks; i++) {
      const plain = input.subarray(i * chunkBytes, Math.min(input.length, (i + 1) * chunkBytes));
      const cipher = createCipheriv('aes-256-gcm', dataKey, nonceOf(partNumber, firstIndex + i));
      out.set(cipher.update(plain), at);
      cipher.final();
      out.set(cipher.getAuthTag(), at + plain.length);
      at += plain.length + tagBytes;
    }
    return at;
  },
  open({ dataKey, partNumber, firstIndex, chunkBytes, input, out }) {
    const pieces = input instanceof Uint8Array ? [input] : input;
    const inputBytes = pieces.reduce((n, piece) => n + piece.length, 0);
    const sealedChunkBytes = chunkBytes + tagBytes;
    const chunks = chunkCountOf(inputBytes, sealedChunkBytes);
    const cursor = new PieceCursor(pieces);
    let at = 0;
    for (let i = 0; i < chunks; i++) {
      const sealedBytes = Math.min(sealedChunkBytes, inputBytes - i * sealedChunkBytes);
      if (sealedBytes <= tagBytes) return -1 - i;
      const length = sealedBytes - tagBytes;
      assert(out.length >= at + length, 'An open output holds the opened run');
      const decipher = createDecipheriv('aes-256-gcm', dataKey, nonceOf(partNumber, firstIndex + i));
      let written = at;
      for (const view of cursor.next(length)) {
        const plain = decipher.update(view);
        out.set(plain, written);
        written += plain.length;
      }
      const tag = cursor.next(tagBytes);
      decipher.setAuthTag(tag.length === 1 ? tag[0]! : Buffer.concat(tag));
      try {
        decipher.final();
      } catch {
        out.fill(0, at, at + length);
        return -1 - i;
      }
      at += length;
    }
    return at;
  },
};

function wrapNative(binding: NativeBinding): GcmChunks {
  return {
    name: 'native',
    seal: (run) => binding.seal(run.dataKey, run.partNumber, run.firstIndex, run.chunkBytes, run.input, run.out),
    open: (run) => binding.open(run.dataKey, run.partNumber, run.firstIndex, run.chunkBytes, run.input, run.out),
  };
}

/** Both implementations seal and open one run of random bytes alike, or the native one is not used. */
function agrees(native: GcmChunks): boolean {
  const run = { dataKey: randomBytes(32), partNumber: 7, firstIndex: 2 ** 40, chunkBytes: 100 };
  const input = randomBytes(250);
  const sealed = [native, nodeGcmChunks].map((impl) => {
    const out = Buffer.alloc(250 + 3 * tagBytes);
    return impl.seal({ ...run, input, out }) === out.length ? out : undefined;
  });
  if (!sealed[0] || !sealed[1]?.equals(sealed[0])) return false;
  const opened = Buffer.alloc(250);
  if (native.open({ ...run, input: sealed[0], out: opened }) !== 250 || !opened.equals(input)) return false;
  // As pieces: a chunk and a tag straddling them.
  const pieces = [sealed[0].subarray(0, 50), sealed[0].subarray(50, 110), sealed[0].subarray(110, 230), sealed[0].subarray(230)];
  opened.fill(0);
  return native.open({ ...run, input: pieces, out: opened }) === 250 && opened.equals(input);
}

/** The path of the built addon, from src/util or dist/util alike. */
export const nativeAddonPath = fileURLToPath(new URL('../../native/build/chunk_cipher.node', import.meta.url));

export interface NativeLoad {
  native?: GcmChunks;
  /** The addon's own functions, for tests of its argument checks. */
  binding?: NativeBinding;
  openssl?: string;
  /** The library EVP resolved to. */
  libcrypto?: string;
  reason?: string;
}

let nativeLoad: NativeLoad | undefined;

/**
 * Loads the addon once. Node exports its bundled OpenSSL's symbols, and the dynamic linker would bind the
 * addon's EVP calls (and libcrypto's own internal calls) to them: RTLD_DEEPBIND makes the addon and the
 * libcrypto it needs look in themselves first, so one consistent system libcrypto runs. (macOS's two-level
 * namespace does that already.)
 */
function dlopenAddon(): NativeBinding {
  const module = { exports: {} as NativeBinding };
  const flags = constants.dlopen as Record<string, number | undefined>;
  process.dlopen(module, nativeAddonPath, (flags.RTLD_NOW ?? 0) | (flags.RTLD_DEEPBIND ?? 0));
  return module.exports;
}

/** The native implementation if the addon loads and agrees with node:crypto, whatever the environment says. */
export function loadNativeGcmChunks(): NativeLoad {
  nativeLoad ??= tryLoadNative();
  return nativeLoad;
}

function tryLoadNative(): NativeLoad {
  let binding: NativeBinding;
  try {
    binding = dlopenAddon();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return { reason: `the addon did not load (${message}); npm install builds it when cc and libssl-dev are there` };
  }
  const found = { binding, openssl: binding.openssl, ...(binding.libcrypto ? { libcrypto: binding.libcrypto } : {}) };
  if (process.platform === 'linux' && !binding.libcrypto?.includes('libcrypto')) {
    return { ...found, reason: `the addon's EVP calls resolved to "${binding.libcrypto ?? 'unknown'}", not the system libcrypto` };
  }
  const native = wrapNative(binding);
  if (!agrees(native)) return { ...found, reason: 'the addon and node:crypto disagree on a test run' };
  return { ...found, native };
}

const loaded: NativeLoad = process.env.TESSERA_NATIVE_CIPHER === 'off' ? { reason: 'TESSERA_NATIVE_CIPHER=off' } : loadNativeGcmChunks();

/** The implementation the data path uses. */
export const gcmChunks: GcmChunks = loaded.native ?? nodeGcmChunks;

/** What the start-up log says: which implementation, its libcrypto, and why not the native one. */
export function gcmChunksSummary(): { cipher: string; openssl?: string; libcrypto?: string; reason?: string } {
  const { openssl, libcrypto, reason } = loaded;
  return { cipher: gcmChunks.name, ...(openssl ? { openssl } : {}), ...(libcrypto ? { libcrypto } : {}), ...(reason ? { reason } : {}) };
}
