import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNativeBool, parseReflectorBool, parseReplicatorBool } from './bool.ts';

void describe('parseReflectorBool', () => {
  void test('true in any case and with surrounding whitespace is true', () => {
    for (const text of ['true', 'True', 'TRUE', 'tRuE', ' true\n'])
      assert.equal(parseReflectorBool(text), true, text);
  });
  void test('anything else, and absence, is false', () => {
    for (const text of [undefined, '', 'false', 'FALSE', '1', 't', 'yes', 'on', 'truee', '“true”']) {
      assert.equal(parseReflectorBool(text), false, String(text));
    }
  });
});

void describe('parseReplicatorBool (Go strconv.ParseBool)', () => {
  void test('accepts exactly the Go spellings', () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True'])
      assert.deepEqual(parseReplicatorBool(text), { ok: true, value: true });
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False'])
      assert.deepEqual(parseReplicatorBool(text), { ok: true, value: false });
  });
  void test('rejects other spellings and whitespace, naming the value', () => {
    for (const text of ['tRuE', 'yes', ' true', 'true ', '', '2', 'on']) {
      const result = parseReplicatorBool(text);
      assert.ok(!result.ok, text);
      assert.ok(result.error.includes(JSON.stringify(text)), result.error);
    }
  });
});

void describe('parseNativeBool', () => {
  void test('true/false in any case, trimmed', () => {
    assert.deepEqual(parseNativeBool(' TRUE '), { ok: true, value: true });
    assert.deepEqual(parseNativeBool('False'), { ok: true, value: false });
  });
  void test('anything else is a problem, not false', () => {
    for (const text of ['yes', '1', 'no', '', 'on', '“true”']) {
      const result = parseNativeBool(text);
      assert.ok(!result.ok, text);
      assert.match(result.error, /use "true" or "false"/);
    }
  });
});
