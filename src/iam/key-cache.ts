// Every active access key in memory, with the Identity it signs as: signature checks look keys up here,
// never in the MetaStore. Reloaded whole when the IAM generation moves: at once after a change made
// through this process, and by a poll of the generation record (one get) for changes made elsewhere.
import type { Logger } from '../util/log.js';
import { Poller } from '../util/poller.js';
import { accountId, type Identity } from './types.js';
import { userArn, type IamSnapshot, type IamStore } from './users.js';

const rootArn = `arn:aws:iam::${accountId}:root`;

/** How often a process on a shared MetaStore looks for IAM changes made by others. */
export const iamPollIntervalMs = 1000;

interface CachedKey {
  secretAccessKey: string;
  identity: Identity;
}

export interface KeyCacheOptions {
  store: IamStore;
  root: { accessKeyId: string; secretAccessKey: string };
  log?: Logger;
}

export class KeyCache {
  private entries = new Map<string, CachedKey>();
  private generation = -1;
  private readonly root: CachedKey;
  private readonly poller: Poller<void>;

  constructor(private readonly options: KeyCacheOptions) {
    this.root = { secretAccessKey: options.root.secretAccessKey, identity: Object.freeze({ kind: 'root', accessKeyId: options.root.accessKeyId, arn: rootArn }) };
    this.poller = new Poller(() => this.load(), 'Cannot load IAM users and access keys', options.log);
  }

  /** The secret of an active key; undefined for an unknown, inactive or deleted one. */
  secretFor(accessKeyId: string): string | undefined {
    return this.lookup(accessKeyId)?.secretAccessKey;
  }

  /** Who a key signs as; undefined for an unknown, inactive or deleted one. */
  identityFor(accessKeyId: string): Identity | undefined {
    return this.lookup(accessKeyId)?.identity;
  }

  private lookup(accessKeyId: string): CachedKey | undefined {
    if (accessKeyId === this.options.root.accessKeyId) return this.root;
    return this.entries.get(accessKeyId);
  }

  /**
   * Reloads the keys if the generation moved since the last load. A call made while a load runs waits
   * for one that starts after it, so a caller that just committed a change sees it once this resolves.
   */
  refresh(): Promise<void> {
    return this.poller.refresh();
  }

  /** Polls the generation every `intervalMs` until stop(); a failed look is logged once per run of failures. */
  start(intervalMs = iamPollIntervalMs): void {
    this.poller.start(intervalMs);
  }

  stop(): void {
    this.poller.stop();
  }

  private async load(): Promise<void> {
    if ((await this.options.store.generation()) === this.generation) return;
    const snapshot = await this.options.store.snapshot();
    if (snapshot.unreadable.length > 0) this.options.log?.warn('Cannot open the secrets of some access keys: they are refused until re-created', { accessKeys: snapshot.unreadable });
    this.entries = entriesOf(snapshot);
    this.generation = snapshot.generation;
  }
}

function entriesOf(snapshot: IamSnapshot): Map<string, CachedKey> {
  const entries = new Map<string, CachedKey>();
  for (const { record, secretAccessKey } of snapshot.keys.values()) {
    if (record.status !== 'Active') continue;
    const user = snapshot.users.get(record.userName);
    if (!user) continue; // a key whose user is gone cannot be left behind by DeleteUser; ignored should one be
    const identity: Identity = Object.freeze({
      kind: 'user' as const,
      accessKeyId: record.accessKeyId,
      userName: record.userName,
      userId: user.record.userId,
      arn: userArn(record.userName),
      policies: Object.freeze(user.policies.map((p) => p.document)),
    });
    entries.set(record.accessKeyId, { secretAccessKey, identity });
  }
  return entries;
}
