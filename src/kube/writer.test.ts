import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownedManagedFields } from './writer.ts';

test('nsync claims exactly the content keys a write sets, never the ones it removes', () => {
  assert.deepEqual(ownedManagedFields({ data: { a: 'x', gone: null }, binaryData: { b: 'y' } }), [
    {
      manager: 'nsync',
      operation: 'Update',
      apiVersion: 'v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:data': { 'f:a': {} }, 'f:binaryData': { 'f:b': {} } },
    },
  ]);
});

test('a write without content still leaves one nsync entry, so the server keeps tracking', () => {
  const [entry] = ownedManagedFields({});
  assert.deepEqual(entry, {
    manager: 'nsync',
    operation: 'Update',
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1: {},
  });
});
