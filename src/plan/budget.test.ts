import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentBytes, formatBytes, overBudget } from './budget.ts';

void describe('fan-out budget', () => {
  void it('counts decoded bytes of Secret data and ConfigMap binaryData, text bytes of ConfigMap data', () => {
    const base64 = Buffer.from('hello world!').toString('base64');
    assert.equal(contentBytes('Secret', { type: 'Opaque', data: { k: base64 }, binaryData: {} }), 1 + 12);
    assert.equal(
      contentBytes('ConfigMap', { type: undefined, data: { k: 'é' }, binaryData: { b: base64 } }),
      1 + 2 + 1 + 12,
    );
    assert.equal(
      contentBytes('Secret', {
        type: 'Opaque',
        data: { k: Buffer.from('a').toString('base64') },
        binaryData: {},
      }),
      2,
    );
  });

  void it('says which limit is exceeded', () => {
    const budget = { maxTargets: 10, maxBytes: 2 * 1024 * 1024 * 1024 };
    assert.equal(overBudget(budget, 10, 1024), undefined);
    assert.match(overBudget(budget, 11, 1) ?? '', /11 mirrors exceed the limit of 10 per source/);
    assert.match(
      overBudget({ ...budget, maxTargets: 5000 }, 2000, 1024 * 1024 * 1.5) ?? '',
      /2000 mirrors of 1\.5 MiB \(2\.9 GiB\) exceed the limit of 2 GiB/,
    );
  });

  void it('formats sizes people read', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(512 * 1024 * 1024), '512 MiB');
  });
});
