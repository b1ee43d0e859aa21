import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonPayload, payloadLength } from './json-payload.ts';

const text = (chunks: readonly Buffer[]): string => Buffer.concat(chunks).toString('utf8');

test('a payload is the body as JSON, whatever the body', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()),
      fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
      fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
      fc.boolean(),
      (rest, data, binaryData, freeze) => {
        const body: Record<string, unknown> = { ...rest };
        if (data !== undefined) body['data'] = freeze ? Object.freeze(data) : data;
        if (binaryData !== undefined) body['binaryData'] = freeze ? Object.freeze(binaryData) : binaryData;
        const chunks = jsonPayload(body);
        assert.deepEqual(JSON.parse(text(chunks)), JSON.parse(JSON.stringify(body)));
        assert.equal(payloadLength(chunks), Buffer.byteLength(JSON.stringify(body)));
      },
    ),
  );
});

test("the writes of a fan-out send one encoding of the source's frozen content, not one each", () => {
  const data = Object.freeze({ 'tls.crt': 'QUJD', ünï: 'Y29kZQ==' });
  const first = jsonPayload({ metadata: { namespace: 'a', name: 'x' }, data });
  const second = jsonPayload({ metadata: { namespace: 'b', name: 'x' }, data });
  const encoded = first.find((chunk) => chunk.toString('utf8') === JSON.stringify(data));
  assert.ok(encoded !== undefined && second.includes(encoded), 'the same bytes, by identity');
  assert.deepEqual(JSON.parse(text(second)), { metadata: { namespace: 'b', name: 'x' }, data });

  // A map that may still change is encoded with its body, every time.
  const open = { key: 'dmFsdWU=' };
  assert.equal(jsonPayload({ data: open }).length, 1);
  assert.deepEqual(JSON.parse(text(jsonPayload({ data: open }))), { data: open });
});

test('odd bodies: only shared fields, a __proto__ key, no object at all', () => {
  const data = Object.freeze({ a: 'b' });
  assert.equal(text(jsonPayload({ data })), '{"data":{"a":"b"}}');
  const odd = JSON.parse('{"__proto__":{"x":1},"data":{"k":"v"}}') as Record<string, unknown>;
  odd['data'] = Object.freeze(odd['data'] as object);
  assert.deepEqual(JSON.parse(text(jsonPayload(odd))), JSON.parse('{"__proto__":{"x":1},"data":{"k":"v"}}'));
  assert.equal(text(jsonPayload(['a'])), '["a"]');
  assert.equal(text(jsonPayload('s')), '"s"');
});
