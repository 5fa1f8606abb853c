// The durable write end of native/file_sync.c: fsync (or fdatasync), then the range just written advised
// out of the page cache, in one threadpool call. Absent, or TESSERA_DROP_WRITTEN=off, a shard's bytes are
// synced with fs and stay cached. It owns no descriptor: its caller keeps the fd open until it settles.
import { fileURLToPath } from 'node:url';

export interface FileSyncBinding {
  /**
   * fsync(fd) (fdatasync with `dataOnly`), then posix_fadvise DONTNEED of [offset, offset + length)
   * (length 0: to the end of the file). Rejects with Node's errno error shape (code "EIO", syscall
   * "fsync") when the sync fails; the advice failing is not an error.
   */
  syncDropping(fd: number, dataOnly: boolean, offset: number, length: number): Promise<void>;
}

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

/** What the start-up log says: whether written bytes leave the page cache, and why not. */
export function fileSyncSummary(): { dropWritten: boolean; reason?: string } {
  return { dropWritten: nativeFileSync !== undefined, ...(loaded.reason ? { reason: loaded.reason } : {}) };
}
