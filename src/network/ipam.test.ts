import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocateSubnet, auxErrors, carve, checkHostAddress, formatCidr, formatIp, overlaps, parseCidr, parseIp, parsePool } from './ipam.js';

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

test('carve leaves auxiliary addresses out of the runs host-local may hand out', () => {
  const ip = (s: string) => parseIp(s)!;
  const runs = (first: string, last: string, holes: string[]) => carve(ip(first), ip(last), holes.map(ip)).map((r) => r.map(formatIp).join('-'));
  assert.deepEqual(runs('10.0.0.8', '10.0.0.15', ['10.0.0.9', '10.0.0.11']), ['10.0.0.8-10.0.0.8', '10.0.0.10-10.0.0.10', '10.0.0.12-10.0.0.15']);
  assert.deepEqual(runs('10.0.0.8', '10.0.0.15', ['10.0.0.8', '10.0.0.15', '10.0.0.200', '10.0.0.8']), ['10.0.0.9-10.0.0.14']);
  assert.deepEqual(runs('10.0.0.8', '10.0.0.9', ['10.0.0.8', '10.0.0.9']), []);
});

test('auxiliary addresses are checked against their subnet in dockerd\'s words', () => {
  const s = parseCidr('10.0.0.0/24');
  assert.deepEqual(auxErrors(s, '10.0.0.0/24', { a: '10.0.0.5' }), []);
  assert.deepEqual(auxErrors(s, '10.0.0.0/24', { a: '10.0.1.5', b: 'x', c: 'fe80::1' }), [
    "invalid auxiliary address a: parent subnet 10.0.0.0/24 doesn't contain this address",
    'invalid auxiliary address b: invalid address',
    'invalid auxiliary address c: parent subnet is an IPv4 block',
  ]);
  assert.deepEqual(auxErrors(undefined, '', { a: '10.0.0.5' }), ['invalid subnet : invalid CIDR block notation']);
});
