import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { selectorMatches } from './filter.ts';
import type { LabelSelector, SelectorRequirement } from './model.ts';
import type { Result } from './result.ts';
import { formatSelector, parseSelector } from './selectors.ts';

function value<T>(result: Result<T>): T {
  if (!result.ok) assert.fail(`expected ok, got error: ${result.error}`);
  return result.value;
}

function error<T>(result: Result<T>): string {
  if (result.ok) assert.fail('expected an error, got a value');
  return result.error;
}

function requirements(text: string): readonly SelectorRequirement[] {
  return value(parseSelector(text)).requirements;
}

void describe('parseSelector: the Kubernetes grammar', () => {
  const valid: readonly [text: string, expected: readonly SelectorRequirement[]][] = [
    ['', []],
    ['   ', []],
    ['env=prod', [{ key: 'env', op: 'in', values: ['prod'] }]],
    ['env==prod', [{ key: 'env', op: 'in', values: ['prod'] }]],
    ['env!=prod', [{ key: 'env', op: 'notin', values: ['prod'] }]],
    ['env in (b, a, b)', [{ key: 'env', op: 'in', values: ['a', 'b'] }]],
    ['env notin (a,b)', [{ key: 'env', op: 'notin', values: ['a', 'b'] }]],
    ['env', [{ key: 'env', op: 'exists' }]],
    ['!env', [{ key: 'env', op: 'doesnotexist' }]],
    ['env=', [{ key: 'env', op: 'in', values: [''] }]],
    ['env in ()', [{ key: 'env', op: 'in', values: [''] }]],
    ['env in (a,)', [{ key: 'env', op: 'in', values: ['', 'a'] }]],
    ['env in(a)', [{ key: 'env', op: 'in', values: ['a'] }]],
    [
      ' team = a , tier in ( x , y ) , ! legacy , owner ',
      [
        { key: 'team', op: 'in', values: ['a'] },
        { key: 'tier', op: 'in', values: ['x', 'y'] },
        { key: 'legacy', op: 'doesnotexist' },
        { key: 'owner', op: 'exists' },
      ],
    ],
    ['example.com/team=a', [{ key: 'example.com/team', op: 'in', values: ['a'] }]],
    [
      'kubernetes.io/metadata.name=kube-system',
      [{ key: 'kubernetes.io/metadata.name', op: 'in', values: ['kube-system'] }],
    ],
    ['App_Name.v1=Value_1.x', [{ key: 'App_Name.v1', op: 'in', values: ['Value_1.x'] }]],
    [`${'k'.repeat(63)}=${'v'.repeat(63)}`, [{ key: 'k'.repeat(63), op: 'in', values: ['v'.repeat(63)] }]],
  ];
  for (const [text, expected] of valid) {
    void test(`accepts ${JSON.stringify(text)}`, () => {
      assert.deepEqual(requirements(text), expected);
    });
  }

  void test('keeps the trimmed text for reasons', () => {
    assert.equal(value(parseSelector('  env=prod ')).text, 'env=prod');
  });

  const invalid: readonly [text: string, reason: RegExp][] = [
    ['env=prod,', /a requirement must follow ","/],
    [',env', /expected a label key, found ","/],
    ['env in x', /expected "\(" after the operator of "env"/],
    ['env in (x', /expected a value, "," or "\)" in the set of "env", found the end/],
    ['env in (x y)', /expected a value, "," or "\)"/],
    ['env prod', /expected an operator or "," after "env", found "prod"/],
    ['env=prod tier', /expected "," between requirements/],
    ['env=(prod)', /expected a value after the operator of "env"/],
    ['=prod', /expected a label key, found "="/],
    ['!env=prod', /expected "," between requirements, found "="/],
    ['!', /expected a label key after "!"/],
    ['replicas>1', /operator ">" after "replicas" is not supported/],
    [
      'Example.com/team=a',
      /label key "Example.com\/team" is invalid: a label key prefix must be a DNS subdomain/,
    ],
    ['a/b/c=d', /at most one "\/"/],
    ['/team=a', /prefix before "\/" must not be empty/],
    ['team/=a', /name must not be empty/],
    [`${'k'.repeat(64)}=v`, /at most 63 characters/],
    [`k=${'v'.repeat(64)}`, /value ".*" of "k" is invalid: a label value has at most 63 characters/],
    ['k=-v', /starts and ends with a letter or digit/],
    ['k in (a, -b)', /value "-b" of "k" is invalid/],
    ['“env”=prod', /label key "“env”" is invalid/],
    ['env=“prod”', /value "“prod”" of "env" is invalid/],
    ['in=a', /expected a label key, found "in"/],
  ];
  for (const [text, reason] of invalid) {
    void test(`rejects ${JSON.stringify(text.slice(0, 40))}`, () => {
      assert.match(error(parseSelector(text)), reason);
    });
  }

  void test('a huge value is refused with a short message', () => {
    const message = error(parseSelector(`env=${'v'.repeat(300_000)}`));
    assert.ok(message.length < 400, `${message.length} characters`);
  });
});

void describe('parsed selectors match like Kubernetes', () => {
  const cases: readonly [selector: string, labels: Record<string, string>, expected: boolean][] = [
    ['', {}, true],
    ['env=prod', { env: 'prod' }, true],
    ['env=prod', { env: 'dev' }, false],
    ['env=prod', {}, false],
    ['env!=prod', { env: 'dev' }, true],
    ['env!=prod', {}, true],
    ['env!=prod', { env: 'prod' }, false],
    ['env in (a,b)', { env: 'b' }, true],
    ['env in (a,b)', { env: 'c' }, false],
    ['env in (a,b)', {}, false],
    ['env notin (a,b)', {}, true],
    ['env notin (a,b)', { env: 'a' }, false],
    ['env', { env: '' }, true],
    ['env', {}, false],
    ['!env', {}, true],
    ['!env', { env: 'x' }, false],
    ['env=', { env: '' }, true],
    ['env=prod,team=a', { env: 'prod', team: 'a' }, true],
    ['env=prod,team=a', { env: 'prod', team: 'b' }, false],
  ];
  for (const [selector, labels, expected] of cases) {
    void test(`${JSON.stringify(selector)} on ${JSON.stringify(labels)} → ${expected}`, () => {
      assert.equal(selectorMatches(value(parseSelector(selector)), labels), expected);
    });
  }
});

void describe('formatSelector', () => {
  void test('writes canonical Kubernetes syntax', () => {
    assert.equal(
      formatSelector(
        value(parseSelector(' team == a , tier in (y, x), env != dev, !legacy, owner, k notin (a,b)')),
      ),
      'team=a,tier in (x,y),env!=dev,!legacy,owner,k notin (a,b)',
    );
  });
});

void describe('properties', () => {
  const symbolic = fc.string({
    unit: fc.constantFrom(
      'a',
      'b',
      '=',
      '!',
      '(',
      ')',
      ',',
      ' ',
      'in',
      'notin',
      '/',
      '.',
      '-',
      '<',
      '>',
      '“',
    ),
    maxLength: 40,
  });

  void test('parseSelector never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(symbolic, fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        const parsed = parseSelector(text);
        if (!parsed.ok) assert.ok(parsed.error.length > 0);
      }),
      { numRuns: 1000 },
    );
  });

  void test('whatever parses, formats and parses back to the same requirements', () => {
    fc.assert(
      fc.property(symbolic, (text) => {
        const parsed = parseSelector(text);
        if (!parsed.ok) return;
        assert.deepEqual(requirements(formatSelector(parsed.value)), parsed.value.requirements);
      }),
      { numRuns: 1000 },
    );
  });

  const nameChar = fc.constantFrom('a', 'Z', '0', '-', '_', '.');
  const name = fc
    .tuple(
      fc.constantFrom('a', 'B', '7'),
      fc.string({ unit: nameChar, maxLength: 10 }),
      fc.constantFrom('x', '9'),
    )
    .map(([head, middle, tail]) => `${head}${middle}${tail}`);
  const key = fc
    .tuple(fc.option(fc.constantFrom('example.com', 'kubernetes.io', 'a-b.c')), name)
    .map(([prefix, local]) => (prefix === null ? local : `${prefix}/${local}`))
    .filter((candidate) => candidate !== 'in' && candidate !== 'notin');
  const labelValue = fc.oneof(fc.constant(''), name);
  const values = fc.uniqueArray(labelValue, { minLength: 1, maxLength: 4 }).map((list) => [...list].sort());
  const requirement: fc.Arbitrary<SelectorRequirement> = fc.oneof(
    fc
      .tuple(key, fc.constantFrom('in' as const, 'notin' as const), values)
      .map(([k, op, v]) => ({ key: k, op, values: v })),
    fc
      .tuple(key, fc.constantFrom('exists' as const, 'doesnotexist' as const))
      .map(([k, op]) => ({ key: k, op })),
  );

  void test('generated selectors round-trip through format and parse', () => {
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 5 }), (generated) => {
        const selector: LabelSelector = { text: '', requirements: generated };
        assert.deepEqual(requirements(formatSelector(selector)), generated);
      }),
      { numRuns: 500 },
    );
  });
});
