import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessTable } from './access-table.js';
import { operationName, routedHandlers } from './router.js';
import { isS3Action } from '../iam/actions.js';
import { Query } from './query.js';

test('access table - every operation the router serves has an IAM action, and the table names no other', () => {
  const served = routedHandlers().map(operationName);
  assert.ok(served.length > 30);
  for (const name of served) assert.ok(accessTable.has(name), `No access rule for "${name}"`);
  for (const name of accessTable.keys()) assert.ok(served.includes(name), `Access rule for "${name}", which the router does not serve`);
});

test('access table - every action it gives is an S3 action a policy may name, with and without a versionId', () => {
  for (const [name, rule] of accessTable) {
    for (const query of ['', 'versionId=abc']) {
      const action = rule.action({ req: { headers: {} } as never, query: Query.parse(query), bucket: 'b', key: 'k' });
      assert.ok(isS3Action(action.toLowerCase()), `${name}: "${action}"`);
    }
  }
});
