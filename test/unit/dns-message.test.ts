// The dns health check's query encoder and answer decoder: the exact bytes of a query, answers
// read back (compressed question included), and malformed answers of every shape refused with a
// reason, never a throw or a loop.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { decodeAnswer, encodeQuery, rcodeName, sameQuestion, type DnsQuestion } from '../../src/health/dns-message.js';

const EXAMPLE: DnsQuestion = { name: 'www.Example.com', type: 1, class: 1 };

/** An answer as a server would build it from a query: QR set, rcode given, question echoed. */
function answerTo(query: Buffer, rcode = 0, patch: (bytes: Buffer) => void = () => undefined): Buffer {
  const bytes = Buffer.from(query);
  bytes.writeUInt16BE(0x8180 | rcode, 2);
  patch(bytes);
  return bytes;
}

test('encodeQuery: header (id, RD, one question) and the question in wire form, byte for byte', () => {
  const query = encodeQuery(0xbeef, EXAMPLE);
  assert.is(query.toString('hex'),
    'beef' + '0100' + '0001' + '0000' + '0000' + '0000'
    + '03' + Buffer.from('www').toString('hex') + '07' + Buffer.from('Example').toString('hex') + '03' + Buffer.from('com').toString('hex') + '00'
    + '0001' + '0001');
  assert.is(encodeQuery(7, { name: '', type: 2, class: 1 }).toString('hex'), '0007010000010000000000000000020001', 'the root is one zero byte');
  assert.throws(() => encodeQuery(1, { name: `${'a'.repeat(64)}.com`, type: 1, class: 1 }), /1 to 63 bytes/);
  assert.throws(() => encodeQuery(1, { name: Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.'), type: 1, class: 1 }), /at most 255/);
});

test('decodeAnswer: an answer to the query reads back id, rcode and the question; names compare case-insensitively', () => {
  const query = encodeQuery(0x1234, EXAMPLE);
  const decoded = decodeAnswer(answerTo(query));
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  assert.is(decoded.answer.id, 0x1234);
  assert.is(decoded.answer.rcode, 0);
  assert.equal(decoded.answer.question, EXAMPLE);
  assert.ok(sameQuestion({ ...EXAMPLE, name: 'WWW.example.COM' }, decoded.answer.question!));
  assert.not.ok(sameQuestion({ ...EXAMPLE, type: 28 }, decoded.answer.question!));
  const failed = decodeAnswer(answerTo(query, 2));
  assert.ok(failed.ok && failed.answer.rcode === 2 && rcodeName(2) === 'SERVFAIL');
  // A question written as a pointer (legal, §4.1.4) is followed: here to offset 4, the zero high byte
  // of QDCOUNT, which reads as the root name; a pointer forward (or to itself) is how loops are built.
  const header = answerTo(query).subarray(0, 12);
  const viaPointer = decodeAnswer(Buffer.concat([header, Buffer.from([0xc0, 4, 0, 2, 0, 1])]));
  assert.ok(viaPointer.ok && viaPointer.answer.question?.name === '' && viaPointer.answer.question.type === 2);
  const forward = decodeAnswer(Buffer.concat([header, Buffer.from([0xc0, 14, 0x01, 0x61, 0x00, 0, 1, 0, 1])]));
  assert.ok(!forward.ok && /points forward/.test(forward.reason));
});

test('decodeAnswer: malformed answers are refused with a reason, none throws', () => {
  const query = encodeQuery(0x4242, EXAMPLE);
  const good = answerTo(query);
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /shorter than the 12-byte header/],
    ['11 bytes', good.subarray(0, 11), /shorter than the 12-byte header/],
    ['a query (QR clear)', query, /QR bit clear/],
    ['another opcode', answerTo(query, 0, (b) => b.writeUInt16BE(0x8000 | (2 << 11), 2)), /opcode 2/],
    ['two questions', answerTo(query, 0, (b) => b.writeUInt16BE(2, 4)), /2 questions/],
    ['name cut inside a label', good.subarray(0, 14), /runs past the end/],
    ['name without its end', good.subarray(0, 12 + 4 + 8 + 4), /runs past the end/],
    ['type and class cut', good.subarray(0, good.length - 1), /cut short before its type and class/],
    ['pointer cut short', Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0])]), /pointer cut short/],
    ['pointer to itself', Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /points forward/],
    ['extended label type', Buffer.concat([good.subarray(0, 12), Buffer.from([0x41, 0, 0, 1, 0, 1])]), /label type 0x40/],
    ['name over 255 bytes', Buffer.concat([good.subarray(0, 12), Buffer.from(Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat()), Buffer.from([0, 0, 1, 0, 1])]), /longer than 255/],
  ];
  for (const [what, bytes, reason] of cases) {
    let decoded: ReturnType<typeof decodeAnswer> | undefined;
    assert.not.throws(() => { decoded = decodeAnswer(bytes); }, what);
    assert.ok(decoded && !decoded.ok, `${what}: refused`);
    if (decoded && !decoded.ok) assert.match(decoded.reason, reason, what);
  }
  // Random bytes never throw.
  for (let i = 0; i < 2000; i++) {
    const noise = Buffer.from(Array.from({ length: i % 80 }, () => Math.floor(Math.random() * 256)));
    assert.not.throws(() => decodeAnswer(noise));
  }
});

test.run();
