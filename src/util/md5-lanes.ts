// MD5 of many streams at once, one SIMD lane each (native/md5_lanes.c), for the hashing thread: loads the
// addon, checks it agrees with node:crypto on a random run, and says why not when it does not load or agree.
// It hashes nothing itself; hash-thread.ts decides which streams share a call.
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's functions. A context is a Uint8Array the addon made and only it reads or writes. */
export interface Md5LanesBinding {
  /** A fresh context: MD5's initial state, nothing taken. */
  create(): Buffer;
  /** Context i takes input i's bytes, for 1 to md5LanesMax distinct contexts at once; `path` forces a path. */
  update(contexts: readonly Uint8Array[], inputs: readonly Uint8Array[], path?: string): void;
  /** The MD5 of every byte the context took; the context is left as it was. */
  digest(context: Uint8Array): Buffer;
  /** The paths this CPU supports, fastest first: "avx512", "avx2", "scalar". */
  readonly paths: readonly string[];
  /** The one update() takes by default (the first of paths). */
  readonly path: string;
  readonly contextBytes: number;
  /**
   * An ArrayBuffer over the first `bytes` bytes of the open file `fd`, mapped shared, so that another
   * process mapping the same file sees the same bytes (hash-service.ts). Absent from an addon built before it.
   */
  mapShared?(fd: number, bytes: number): ArrayBuffer;
}

/** Contexts one update() takes at most: the 32-bit lanes of a zmm register. */
export const md5LanesMax = 16;

/** The path of the built addon, from src/util or dist/util alike. */
export const md5LanesAddonPath = fileURLToPath(new URL('../../native/build/md5_lanes.node', import.meta.url));

export interface Md5LanesLoad {
  /** The addon when it loaded, in use or not (tests check its paths and its argument checks). */
  binding?: Md5LanesBinding;
  /** The path to use, when the addon is in use: the CPU's best, or the one TESSERA_MD5_LANES names. */
  path?: string;
  /** Why the addon is not in use (node:crypto hashes MD5 then). */
  reason?: string;
}

/** Three streams of random, unequal lengths, in uneven pieces, hashed alike by `path` and node:crypto. */
function agrees(binding: Md5LanesBinding, path: string): boolean {
  const bodies = [randomBytes(1000), randomBytes(64 * 37 + 13), randomBytes(55)];
  const contexts = bodies.map(() => binding.create());
  binding.update(contexts, bodies.map((body) => body.subarray(0, 100)), path);
  binding.update(contexts, bodies.map((body) => body.subarray(100)), path);
  return bodies.every((body, i) => binding.digest(contexts[i]!).equals(createHash('md5').update(body).digest()));
}

/**
 * Loads the addon and picks its path. `setting` is TESSERA_MD5_LANES: unset for the CPU's best path,
 * "off" for node:crypto, or a path's name ("avx512", "avx2", "scalar") to force it, for tests and A/Bs.
 */
export function loadMd5Lanes(setting: string | undefined = process.env.TESSERA_MD5_LANES): Md5LanesLoad {
  if (setting === 'off') return { reason: 'TESSERA_MD5_LANES=off' };
  let binding: Md5LanesBinding;
  try {
    binding = createRequire(import.meta.url)(md5LanesAddonPath) as Md5LanesBinding;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return { reason: `the addon did not load (${message}); npm install builds it when cc is there` };
  }
  const path = setting || binding.path;
  if (!binding.paths.includes(path)) return { binding, reason: `TESSERA_MD5_LANES names "${path}", which is not one of this CPU's paths (${binding.paths.join(', ')})` };
  if (!agrees(binding, path)) return { binding, reason: `the addon's "${path}" path and node:crypto disagree on a test run` };
  return { binding, path };
}
