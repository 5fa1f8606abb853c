import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeLayout, emptyLayout } from '../cluster/index.js';
import { domainLossesSurvived, failureDomainsOf } from './failure-domains.js';

const node = (id: string, zone: string, drives: string[]) => ({ kind: 'addNode' as const, node: { id, address: `${id}:1`, zone }, drives: drives.map((d) => ({ id: d, capacity: 1 })) });

test('failureDomainsOf - counts nodes in a cluster and drives on a single node', () => {
  const one = computeLayout(emptyLayout({ partitionCount: 16 }), [node('local', 'local', ['a', 'b', 'c'])]);
  assert.equal(failureDomainsOf(one).count, 3);
  assert.equal(failureDomainsOf(one).of('b'), 'b');
  const three = computeLayout(emptyLayout({ partitionCount: 16 }), [node('n1', 'z1', ['a', 'b']), node('n2', 'z2', ['c', 'd']), node('n3', 'z3', ['e', 'f'])]);
  assert.equal(failureDomainsOf(three).count, 3);
  assert.equal(failureDomainsOf(three).of('d'), 'n2');
  const drained = computeLayout(three, [{ kind: 'drainNode', nodeId: 'n3' }]);
  assert.equal(failureDomainsOf(drained).count, 2);
});

test('domainLossesSurvived - the worst case loses the domains holding the most shards first', () => {
  assert.equal(domainLossesSurvived(['a', 'b', 'c', 'd', 'e', 'f'], 4), 2);
  assert.equal(domainLossesSurvived(['a', 'b', 'c', 'd', 'e'], 4), 1);
  assert.equal(domainLossesSurvived(['a', 'a', 'b', 'b', 'c'], 4), 0);
  assert.equal(domainLossesSurvived(['a', 'b', 'b', 'c', 'c'], 4), 0);
  assert.equal(domainLossesSurvived(['a', 'a', 'b', 'b', 'c', 'c'], 4), 1);
  assert.equal(domainLossesSurvived(['a', 'b', 'c'], 4), -1);
  assert.equal(domainLossesSurvived([], 0), 0);
});
