// Group commit of one drive instance's pack records: one group at a time, a group being every record that
// joined since the previous group started. What a group does (fsyncs, the index transaction) is the caller's.
export interface Joined<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupQueue<T> {
  private waiting: Joined<T>[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    /** Commits one group and settles each of its members (resolve or reject); must not reject itself. */
    private readonly commit: (group: Joined<T>[]) => Promise<void>,
    /** Called each time the queue runs dry. */
    private readonly onIdle: () => void,
  ) {}

  get busy(): boolean {
    return this.running || this.waiting.length > 0;
  }

  /** Resolves once the group `item` joins has committed; rejects with that group's failure. */
  join(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.next();
    });
  }

  /** Resolves when no group runs and none waits. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    if (this.running) return;
    if (this.waiting.length === 0) {
      this.onIdle();
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    this.running = true;
    const group = this.waiting;
    this.waiting = [];
    void this.commit(group).finally(() => {
      this.running = false;
      this.next();
    });
  }
}
