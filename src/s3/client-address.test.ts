import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrustedProxies } from './client-address.js';

test('TrustedProxies - a trusted peer\'s X-Forwarded-For names the client; an untrusted peer\'s is ignored', () => {
  const proxies = TrustedProxies.parse(['127.0.0.1', '10.0.0.0/8', '::1']);
  assert.equal(proxies.clientOf('127.0.0.1', '203.0.113.7'), '203.0.113.7');
  assert.equal(proxies.clientOf('::ffff:127.0.0.1', '203.0.113.7'), '203.0.113.7', 'an IPv4 peer on a dual-stack socket');
  assert.equal(proxies.clientOf('::1', '2001:db8::5'), '2001:db8::5');
  assert.equal(proxies.clientOf('192.0.2.9', '203.0.113.7'), '192.0.2.9');
  assert.equal(proxies.clientOf('127.0.0.1', undefined), '127.0.0.1');
});

test('TrustedProxies - the walk goes right to left through trusted hops only, so a client cannot name itself', () => {
  const proxies = TrustedProxies.parse(['127.0.0.1', '10.0.0.0/8']);
  // The client sent "X-Forwarded-For: 10.9.9.9" itself; HAProxy appended its real address.
  assert.equal(proxies.clientOf('127.0.0.1', '10.9.9.9, 198.51.100.4'), '198.51.100.4');
  // Two trusted proxies in a row: the address the outer one saw.
  assert.equal(proxies.clientOf('127.0.0.1', '198.51.100.4, 10.1.1.1'), '198.51.100.4');
  assert.equal(proxies.clientOf('127.0.0.1', ['198.51.100.4', '10.1.1.1']), '198.51.100.4', 'repeated headers');
  // Garbage stops the walk at the hop that sent it.
  assert.equal(proxies.clientOf('127.0.0.1', 'not-an-ip'), '127.0.0.1');
  assert.equal(proxies.clientOf('127.0.0.1', '198.51.100.4, junk, 10.1.1.1'), '10.1.1.1');
});

test('TrustedProxies - parse refuses what is neither an address nor a CIDR block', () => {
  for (const bad of ['localhost', '10.0.0.0/33', '1.2.3', '']) assert.throws(() => TrustedProxies.parse([bad]), /Cannot use --trusted-proxies/);
});
