// Integer quotas from fractional expected counts, position by position, so that every prefix of
// positions stays within one slot of its expectation and a quota keeps what is already placed.
import { assert } from '../util/assert.js';
import { hashInts } from './hash.js';

/** Running totals of one group of items (zones, or the targets of a zone) across positions. */
export interface Cumulative {
  readonly expected: Float64Array;
  readonly quota: Int32Array;
}

export function newCumulative(size: number): Cumulative {
  return { expected: new Float64Array(size), quota: new Int32Array(size) };
}

const epsilon = 1e-9;
/**
 * Slots a running quota may stray from its running expectation beyond floor/ceiling. With none, a
 * tiny change of shares (one node added among hundreds) pushes many targets across an integer edge at
 * some position and makes them trade slots for nothing; one slot of slack keeps them where they are.
 */
export const quotaSlackSlots = 1;

/**
 * Splits `house` slots of one position over the items (indices into `cumulative`) whose expected
 * counts are `expected`. Each item's running quota stays within `quotaSlackSlots` of the floor or
 * ceiling of its running expectation, so the first w positions of a target hold within two slots of
 * their share for every w. Inside that window an item keeps what it already holds here (`kept`): that
 * is what makes the next layout move only what it must. The rest goes by the largest deficit, or is
 * taken by the largest surplus.
 */
export function apportion(options: {
  items: readonly number[];
  expected: readonly number[];
  house: number;
  kept: (item: number) => number;
  cumulative: Cumulative;
  salt: number;
}): number[] {
  const { items, expected, house, kept, cumulative, salt } = options;
  const running = items.map((item, k) => (cumulative.expected[item] as number) + (expected[k] as number));
  const before = items.map((item) => cumulative.quota[item] as number);
  const low = items.map((_, k) => Math.max(0, Math.floor((running[k] as number) + epsilon) - quotaSlackSlots - (before[k] as number)));
  const high = items.map((_, k) => Math.max(low[k] as number, Math.ceil((running[k] as number) - epsilon) + quotaSlackSlots - (before[k] as number)));
  const quota = items.map((item, k) => Math.min(high[k] as number, Math.max(low[k] as number, kept(item))));
  let given = quota.reduce((a, b) => a + b, 0);
  // deficit > 0: the item is behind its expectation after this position's quota.
  const deficit = (k: number) => (running[k] as number) - (before[k] as number) - (quota[k] as number);
  const tie = (k: number) => hashInts(salt, items[k] as number);
  for (let bounded = true; given !== house; ) {
    assert(items.length > 0, 'Cannot apportion slots over no items');
    const raise = given < house;
    const movable = items
      .map((_, k) => k)
      .filter((k) => !bounded || (raise ? (quota[k] as number) < (high[k] as number) : (quota[k] as number) > (low[k] as number)))
      .filter((k) => raise || (quota[k] as number) > 0);
    if (movable.length === 0) {
      assert(bounded, 'Cannot settle quotas');
      bounded = false; // only when clamping at zero left the window sums short: then ignore the window
      continue;
    }
    movable.sort((a, b) => (raise ? deficit(b) - deficit(a) : deficit(a) - deficit(b)) || tie(a) - tie(b) || a - b);
    for (const k of movable) {
      if (given === house) break;
      quota[k] = (quota[k] as number) + (raise ? 1 : -1);
      given += raise ? 1 : -1;
    }
  }
  items.forEach((item, k) => {
    cumulative.expected[item] = running[k] as number;
    cumulative.quota[item] = (cumulative.quota[item] as number) + (quota[k] as number);
  });
  return quota;
}
