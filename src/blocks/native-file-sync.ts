// The durable write end of native/file_sync.c: fsync (or fdatasync), then the range just written advised
// out of the page cache, in one threadpool call. Absent, or TESSERA_DROP_WRITTEN=off, a shard's bytes are
// synced with fs and stay cached. Its direct writes put pack records and shard files on the device past
// the page cache, staged in memory advised into huge pages unless TESSERA_HUGE_PAGES=off; absent, or
// TESSERA_DIRECT_IO=off, both are written through the cache. It owns no descriptor: its caller keeps the fd
// open until a call settles.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface FileSyncBinding {
  /**
   * fsync(fd) (fdatasync with `dataOnly`), then posix_fadvise DONTNEED of [offset, offset + length)
   * (length 0: to the end of the file). Rejects with Node's errno error shape (code "EIO", syscall
   * "fsync") when the sync fails; the advice failing is not an error.
   */
  syncDropping(fd: number, dataOnly: boolean, offset: number, length: number): Promise<void>;
  /**
   * Writes `pieces` one after another at `position` (a multiple of 4096), padded with zeros to a multiple
   * of 4096, from an aligned staging buffer of the thread that runs it; resolves with the pieces' byte
   * count. Rejects with Node's errno error shape (syscall "pwrite"); EINVAL: the direct write was refused.
   */
  writeDirect(fd: number, pieces: readonly Uint8Array[], position: number): Promise<number>;
  /** Sets (or clears) O_DIRECT on fd; false when the file system refuses it. */
  setDirect(fd: number, on: boolean): boolean;
  /** Whether writeDirect's staging memory is advised into transparent huge pages (false: TESSERA_HUGE_PAGES=off). */
  readonly hugePages?: boolean;
}

/** Alignment of a direct write's position and padded length (native/file_sync.c DIRECT_ALIGN). */
export const directWriteAlignBytes = 4096;

export const fileSyncAddonPath = fileURLToPath(new URL('../../native/build/file_sync.node', import.meta.url));

export interface FileSyncLoad {
  binding?: FileSyncBinding;
  reason?: string;
}

let load: FileSyncLoad | undefined;

/** Loads the addon once, whatever TESSERA_DROP_WRITTEN says. */
export function loadNativeFileSync(): FileSyncLoad {
  load ??= tryLoad();
  return load;
}

function tryLoad(): FileSyncLoad {
  try {
    const module = { exports: {} as FileSyncBinding };
    process.dlopen(module, fileSyncAddonPath);
    return { binding: module.exports };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return { reason: `the addon did not load (${message}); npm install builds it when cc is there` };
  }
}

const loaded: FileSyncLoad = process.env.TESSERA_DROP_WRITTEN === 'off' ? { reason: 'TESSERA_DROP_WRITTEN=off' } : loadNativeFileSync();

/** The sync shard-file.ts ends a write with, or undefined: it then syncs with fs and leaves the pages cached. */
export const nativeFileSync: FileSyncBinding | undefined = loaded.binding;

const direct: FileSyncLoad = process.env.TESSERA_DIRECT_IO === 'off' ? { reason: 'TESSERA_DIRECT_IO=off' } : loadNativeFileSync();

/** The direct writes pack-store.ts and shard-file.ts write with, or undefined: they then write through the page cache. */
export const directWrites: FileSyncBinding | undefined = direct.binding;

/**
 * What the start-up log says: whether written bytes leave the page cache, whether shards are written
 * directly and from huge pages, and why not.
 */
export function fileSyncSummary(): { dropWritten: boolean; reason?: string; directIo: boolean; directIoReason?: string; hugePages?: boolean; hugePagesReason?: string } {
  const huge = directWrites ? hugePagesOf(directWrites) : undefined;
  return {
    dropWritten: nativeFileSync !== undefined,
    ...(loaded.reason ? { reason: loaded.reason } : {}),
    directIo: directWrites !== undefined,
    ...(direct.reason ? { directIoReason: direct.reason } : {}),
    ...(huge ? { hugePages: huge.reason === undefined, ...(huge.reason ? { hugePagesReason: huge.reason } : {}) } : {}),
  };
}

/**
 * Whether direct writes stage in transparent huge pages: the addon advises its staging memory unless
 * TESSERA_HUGE_PAGES=off, and the kernel grants advised memory huge pages unless they are off ("never") or
 * absent. `thpMode` is /sys/kernel/mm/transparent_hugepage/enabled, or null when it cannot be read.
 */
export function hugePagesOf(binding: Pick<FileSyncBinding, 'hugePages'>, thpMode: string | null = readThpMode()): { reason?: string } {
  if (binding.hugePages === false) return { reason: 'TESSERA_HUGE_PAGES=off' };
  if (binding.hugePages === undefined) return { reason: 'the addon predates huge-page staging: npm run build:native' };
  if (thpMode === null) return { reason: 'this kernel has no transparent huge pages' };
  if (thpMode.includes('[never]')) return { reason: 'transparent huge pages are off in this kernel ("never")' };
  return {};
}

function readThpMode(): string | null {
  try {
    return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    return null;
  }
}
