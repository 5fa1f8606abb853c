// Follows the layout history in the MetaStore (design.md §5: the one place layout truth lives): loads the
// epochs stored since the last look, gives the remote targets their new nodes, then hands the whole
// history to the block store. A gateway polls it every second; whoever applies a change refreshes at once.
import type { Layout } from '../cluster/index.js';
import type { LocalBlockStore } from '../blocks/index.js';
import type { RemoteShardTargets } from '../blocks/remote-targets.js';
import type { MetaStore } from '../meta/types.js';
import { loadLayoutsAfter } from '../objects/layouts.js';
import { loadSettledEpoch } from '../objects/rebalance.js';
import type { Logger } from '../util/log.js';
import { Poller } from '../util/poller.js';

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
  private readonly poller: Poller<number>;

  constructor(private readonly options: LayoutFollowerOptions) {
    this.history = [...options.history];
    this.poller = new Poller(() => this.load(), 'Cannot load new cluster layout epochs', options.log);
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
    return this.poller.refresh();
  }

  /** Polls every `intervalMs` until stop(); a failed look is logged once per run of failures. */
  start(intervalMs = layoutPollIntervalMs): void {
    this.poller.start(intervalMs);
  }

  stop(): void {
    this.poller.stop();
  }

  private async load(): Promise<number> {
    const fresh = await loadLayoutsAfter(this.options.meta, this.epoch);
    // While a rebalance is unsettled (here), follow its settled epoch too: the process running the worker
    // settles its own block store, others learn it here and stop looking at older epochs' places.
    if (this.options.blocks.settled() < this.epoch) await loadSettledEpoch(this.options.meta, this.options.blocks);
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
