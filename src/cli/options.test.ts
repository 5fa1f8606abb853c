import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onOff } from './options.js';

test('onOff - reads on/off (and true/false, 1/0) in any case, refuses the rest naming the flag', () => {
  for (const v of ['on', 'ON', ' true ', '1']) assert.equal(onOff('--sigv2', v), true);
  for (const v of ['off', 'Off', 'false', '0']) assert.equal(onOff('--sigv2', v), false);
  for (const v of ['', 'maybe', 'yes please']) assert.throws(() => onOff('--sigv2', v), /Cannot use --sigv2 ".*": expected on or off/);
});
