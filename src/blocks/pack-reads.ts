// The read descriptors of one drive instance's packs: one per pack, shared by the readers that have it open
// at once and closed when the last of them lets go. It never decides which pack holds a shard (the index does).
import type { FileHandle } from 'node:fs/promises';
import type { DriveIo } from './drive-io.js';
import { openForRead } from './shard-file.js';

interface ReadHandle {
  opening: Promise<FileHandle>;
  users: number;
}

export class PackReads {
  private readonly handles = new Map<number, ReadHandle>();

  constructor(
    private readonly io: DriveIo,
    private readonly pathOf: (pack: number) => string,
  ) {}

  /** The pack's descriptor, opened on first use; rejects ENOENT when the pack is gone (compacted, deleted). */
  async acquire(pack: number): Promise<FileHandle> {
    let read = this.handles.get(pack);
    if (!read) {
      const path = this.pathOf(pack);
      const opening = this.io.run(
        () => openForRead(path),
        (late) => void this.io.cleanup(() => late.close()),
      );
      const entry: ReadHandle = { opening, users: 0 };
      read = entry;
      this.handles.set(pack, entry);
      opening.catch(() => {
        if (this.handles.get(pack) === entry) this.handles.delete(pack);
      });
    }
    read.users++;
    try {
      return await read.opening;
    } catch (err) {
      read.users--;
      throw err;
    }
  }

  /**
   * Closed as soon as unused, like a shard file: a later read opens the pack afresh, so a drive moved or
   * removed meanwhile fails that read rather than being read through an old descriptor. Hot shards keep
   * theirs open through the block store's reader cache.
   */
  async release(pack: number): Promise<void> {
    const read = this.handles.get(pack);
    if (!read) return;
    read.users--;
    if (read.users > 0) return;
    this.handles.delete(pack);
    await (await read.opening).close();
  }
}
