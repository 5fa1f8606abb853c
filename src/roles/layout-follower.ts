// Follows the layout history in the MetaStore (design.md §5: the one place layout truth lives): loads the
// epochs stored since the last look, gives the remote targets their new nodes, then hands the whole
// history to the block store. A gateway polls it every second; whoever applies a change refreshes at once.
import type { Layout } from '../cluster/index.js';
import type { LocalBlockStore } from '../blocks/index.js';
import type { RemoteShardTargets } from '../blocks/remote-targets.js';
import type { MetaStore } from '../meta/types.js';
import { loadLayoutsAfter } from '../objects/layouts.js';
import type { Logger } from '../util/log.js';

/** How often a gateway looks for a new epoch: one MetaStore get of the next epoch's key. */
export const layoutPollIntervalMs = 1000;

export interface LayoutFollowerOptions {
  meta: MetaStore;
  blocks: LocalBlockStore;
  /** The history the block store was opened with, oldest first. */
  history: readonly Layout[];
  /** Remote targets to extend with each new epoch's nodes (a gateway); none for local drives. */
  targets?: RemoteShardTargets;
  log?: Logger;
}

export class LayoutFollower {
  private history: Layout[];
  private running: Promise<number> | undefined;
  /** A refresh asked for while one runs: it must look again afterwards, or it could miss the epoch it was told of. */
  private again: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(private readonly options: LayoutFollowerOptions) {
    this.history = [...options.history];
  }

  /** The newest epoch known; 0 before any. */
  get epoch(): number {
    return this.history[this.history.length - 1]?.epoch ?? 0;
  }

  get layouts(): readonly Layout[] {
    return this.history;
  }

  /** Loads what was stored since the last look; resolves with the newest epoch. Calls in flight share a look. */
  refresh(): Promise<number> {
    if (!this.running) {
      this.running = this.load().finally(() => (this.running = undefined));
      return this.running;
    }
    this.again ??= this.running.catch(() => undefined).then(() => {
      this.again = undefined;
      return this.refresh();
    });
    return this.again;
  }

  /** Polls every `intervalMs` until stop(); a failed look is logged once per run of failures. */
  start(intervalMs = layoutPollIntervalMs): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().then(
        () => (this.failing = false),
        (err: unknown) => {
          if (!this.failing) this.options.log?.warn('Cannot load new cluster layout epochs', { error: String(err) });
          this.failing = true;
        },
      );
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async load(): Promise<number> {
    const fresh = await loadLayoutsAfter(this.options.meta, this.epoch);
    if (fresh.length === 0) return this.epoch;
    // Targets first: the block store may place a write on a new node as soon as it has the epoch.
    for (const layout of fresh) this.options.targets?.update(layout);
    this.history = [...this.history, ...fresh];
    this.options.blocks.setLayouts(this.history);
    const newest = fresh[fresh.length - 1]!;
    this.options.log?.info('Following a new cluster layout epoch', { epoch: newest.epoch, nodes: newest.nodes.map((n) => n.id), width: newest.width });
    return newest.epoch;
  }
}
