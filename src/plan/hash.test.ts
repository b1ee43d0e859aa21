import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, CONTENT_HASH_DOMAIN, contentHash, type HashableContent } from './hash.ts';

const base: HashableContent = {
  type: 'Opaque',
  data: { username: 'YWRtaW4=', password: 'czNjcjN0' },
  binaryData: {},
};

/** The same entries, inserted in the opposite order. */
function reversed(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).reverse());
}

void describe('canonicalJson', () => {
  void it('sorts object keys at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [true, null], c: 'x' }, e: undefined }),
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });

  void it('keeps a __proto__ key as an ordinary member', () => {
    const value = Object.fromEntries([['__proto__', 'v']]) as Record<string, string>;
    assert.equal(canonicalJson(value), '{"__proto__":"v"}');
  });
});

void describe('contentHash', () => {
  void it('is sha256 hex with a prefix, over the domain string', () => {
    const hash = contentHash('Secret', base);
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    const canonical = canonicalJson({
      kind: 'Secret',
      type: 'Opaque',
      data: base.data,
      binaryData: base.binaryData,
    });
    const withoutDomain = createHash('sha256').update(canonical).digest('hex');
    const withDomain = createHash('sha256').update(`${CONTENT_HASH_DOMAIN}\n${canonical}`).digest('hex');
    assert.notEqual(hash, `sha256:${withoutDomain}`);
    assert.equal(hash, `sha256:${withDomain}`);
  });

  void it('is pinned: changing it rewrites every mirror in every cluster once', () => {
    assert.equal(
      contentHash('ConfigMap', { type: undefined, data: { a: '1' }, binaryData: { b: 'Ag==' } }),
      'sha256:d5eda13c3388667771e56f737d099cbede14f1140607af966b65e961bb1413c6',
    );
  });

  void it('does not depend on key insertion order', () => {
    const again = { type: 'Opaque', data: reversed(base.data), binaryData: {} };
    assert.equal(contentHash('Secret', again), contentHash('Secret', base));
  });

  void it('changes with a value, a key, the map a key sits in, the type and the kind', () => {
    const hash = contentHash('Secret', base);
    const variants: [string, ReturnType<typeof contentHash>][] = [
      ['value', contentHash('Secret', { ...base, data: { ...base.data, password: 'b3RoZXI=' } })],
      ['key', contentHash('Secret', { ...base, data: { username: 'YWRtaW4=', pass: 'czNjcjN0' } })],
      [
        'map',
        contentHash('Secret', {
          ...base,
          data: { username: 'YWRtaW4=' },
          binaryData: { password: 'czNjcjN0' },
        }),
      ],
      ['type', contentHash('Secret', { ...base, type: 'kubernetes.io/tls' })],
      ['no type', contentHash('Secret', { ...base, type: undefined })],
      ['kind', contentHash('ConfigMap', base)],
    ];
    for (const [what, other] of variants) assert.notEqual(other, hash, what);
  });

  void it('property: equal content gives equal hashes whatever the order; different content different hashes', () => {
    const map = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 5 });
    const content = fc.record({
      type: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
      data: map,
      binaryData: map,
    });
    fc.assert(
      fc.property(content, content, (a, b) => {
        const shuffled = { type: a.type, data: reversed(a.data), binaryData: reversed(a.binaryData) };
        assert.equal(contentHash('Secret', shuffled), contentHash('Secret', a));
        const same =
          canonicalJson({ ...a, type: a.type ?? null }) === canonicalJson({ ...b, type: b.type ?? null });
        assert.equal(contentHash('Secret', a) === contentHash('Secret', b), same);
      }),
    );
  });
});
