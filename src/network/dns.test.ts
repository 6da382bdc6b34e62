import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answer, failure, parseQuestion } from './dns.js';

/** A query as resolvers send it: ID 0x1234, RD, one question. */
function query(name: string, type = 1): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0]), tail]);
}

test('reads the question', () => {
  const q = parseQuestion(query('Web.Local'))!;
  assert.equal(q.name, 'web.local');
  assert.equal(q.type, 1);
  assert.equal(q.class, 1);
  assert.equal(parseQuestion(Buffer.from([1, 2, 3])), undefined);
  assert.equal(parseQuestion(query('x').subarray(0, 14)), undefined);
});

test('answers A records with the question echoed and the ID kept', () => {
  const qb = query('db');
  const out = answer(qb, parseQuestion(qb)!, ['10.1.2.3', '10.1.2.4']);
  assert.equal(out.readUInt16BE(0), 0x1234);
  assert.equal(out[2]! & 0x80, 0x80, 'a response');
  assert.equal(out[2]! & 0x01, 0x01, 'recursion desired, copied');
  assert.equal(out[3]! & 0x0f, 0, 'NOERROR');
  assert.equal(out.readUInt16BE(6), 2, 'two answers');
  const first = 12 + (qb.length - 12);
  assert.deepEqual([...out.subarray(first + 12, first + 16)], [10, 1, 2, 3]);
  assert.deepEqual([...out.subarray(first + 28, first + 32)], [10, 1, 2, 4]);
  assert.equal(out.readUInt32BE(first + 6), 600, 'TTL');
});

test('failures keep the ID and set the code', () => {
  const out = failure(query('x'), 2);
  assert.equal(out.readUInt16BE(0), 0x1234);
  assert.equal(out[3]! & 0x0f, 2);
  assert.equal(out.readUInt16BE(6), 0);
});
