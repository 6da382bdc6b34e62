import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocateSubnet, checkHostAddress, formatCidr, formatIp, overlaps, parseCidr, parseIp, parsePool } from './ipam.js';

test('addresses and CIDRs parse and print', () => {
  assert.equal(formatIp(parseIp('10.1.2.3')!), '10.1.2.3');
  assert.equal(parseIp('10.1.2.256'), undefined);
  assert.equal(parseIp('10.1.2'), undefined);
  const c = parseCidr('172.30.5.1/16');
  assert.equal(formatCidr(c), '172.30.0.0/16');
  assert.equal(formatIp(c.addr), '172.30.5.1');
  assert.throws(() => parseCidr('10.0.0.0'), /invalid CIDR address/);
  assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR address/);
});

test('overlaps', () => {
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16')));
  assert.ok(overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.0.0.0/8')));
  assert.ok(!overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.6.0.0/16')));
});

test('a gateway must be a host address of its subnet', () => {
  const c = parseCidr('10.9.0.0/24');
  assert.equal(formatIp(checkHostAddress(c, '10.9.0.254', 'gateway')), '10.9.0.254');
  assert.throws(() => checkHostAddress(c, '10.9.1.1', 'gateway'), /no matching subnet for gateway 10\.9\.1\.1/);
  assert.throws(() => checkHostAddress(c, '10.9.0.255', 'gateway'), /broadcast/);
  assert.throws(() => checkHostAddress(c, '10.9.0.0', 'gateway'), /network or broadcast/);
});

test('the pool hands out the first subnet nothing overlaps', () => {
  const pool = parsePool('base=10.20.0.0/16,size=24');
  assert.equal(formatCidr(allocateSubnet(pool, [])!), '10.20.0.0/24');
  assert.equal(formatCidr(allocateSubnet(pool, [parseCidr('10.20.0.0/23'), parseCidr('10.20.3.0/24')])!), '10.20.2.0/24');
  assert.equal(allocateSubnet(parsePool('base=10.20.0.0/24,size=24'), [parseCidr('10.0.0.0/8')]), undefined);
  assert.throws(() => parsePool('base=10.20.0.0/16'), /invalid default address pool/);
  assert.throws(() => parsePool('base=10.20.0.0/16,size=8'), /invalid default address pool size/);
});
