import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { NamePattern } from './model.ts';
import {
  MAX_PATTERN_ENTRIES,
  MAX_PATTERN_LENGTH,
  compileGlob,
  compileGlobList,
  compileNamespaceGlobList,
  compileRegex,
  compileRegexList,
  parsePatternList,
} from './patterns.ts';
import type { Result } from './result.ts';

/** A guard, not a measurement: generous limits that only a hang (a backtracking engine) reaches. */
const GUARD = { timeout: 20_000 };
const WATCHDOG_MS = 10_000;

/**
 * Compiles and matches in a worker thread, so that a regression to a backtracking engine fails
 * this test (the watchdog terminates the worker) instead of freezing the whole test run: a
 * synchronous catastrophic match would block the test runner's own timeout.
 */
async function matchInWorker(cases: readonly (readonly [pattern: string, name: string])[]): Promise<unknown> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.module).then(({ compileRegex }) => {
       parentPort.postMessage(workerData.cases.map(([pattern, name]) => {
         const compiled = compileRegex(pattern);
         if (!compiled.ok) return compiled.error;
         let result;
         for (let round = 0; round < 20; round += 1) result = compiled.value.test(name);
         return result;
       }));
     });`,
    { eval: true, workerData: { module: new URL('./patterns.ts', import.meta.url).href, cases } },
  );
  try {
    return await new Promise((resolve, reject) => {
      const watchdog = setTimeout(() => {
        reject(new Error(`matching did not finish within ${WATCHDOG_MS} ms: the engine is not linear-time`));
      }, WATCHDOG_MS);
      worker.once('message', (message: unknown) => {
        clearTimeout(watchdog);
        resolve(message);
      });
      worker.once('error', (error: Error) => {
        clearTimeout(watchdog);
        reject(error);
      });
    });
  } finally {
    await worker.terminate();
  }
}

function value<T>(result: Result<T>): T {
  if (!result.ok) assert.fail(`expected ok, got error: ${result.error}`);
  return result.value;
}

function error<T>(result: Result<T>): string {
  if (result.ok) assert.fail('expected an error, got a value');
  return result.error;
}

function matcher(entry: string, compile: (entry: string) => Result<NamePattern> = compileRegex): NamePattern {
  return value(compile(entry));
}

void describe('parsePatternList', () => {
  void test('trims entries and drops empty ones, keeping order', () => {
    assert.deepEqual(parsePatternList(' b , ,a,, c '), ['b', 'a', 'c']);
    assert.deepEqual(parsePatternList(''), []);
    assert.deepEqual(parsePatternList(' , ,, '), []);
  });
});

void describe('compileRegex', () => {
  void test('matches the whole name only', () => {
    const foo = matcher('foo');
    assert.equal(foo.test('foo'), true);
    for (const name of ['xfoobar', 'xfoo', 'foox', 'fo', '']) assert.equal(foo.test(name), false, name);
  });

  void test('anchors alternations as a group, not only their ends', () => {
    const either = matcher('a|b');
    assert.equal(either.test('a'), true);
    assert.equal(either.test('b'), true);
    assert.equal(either.test('ab'), false);
    assert.equal(either.test('xa'), false);
    assert.equal(either.test('bx'), false);
  });

  void test('accepts patterns that already carry anchors', () => {
    const anchored = matcher('^team-.*$');
    assert.equal(anchored.test('team-a'), true);
    assert.equal(anchored.test('my-team-a'), false);
  });

  void test('a lone * (not a regex) means every name', () => {
    const star = matcher(' * ');
    assert.equal(star.text, '*');
    for (const name of ['default', 'kube-system', '', 'x'.repeat(63)]) assert.equal(star.test(name), true);
  });

  void test('keeps the entry as written (trimmed) for reasons', () => {
    assert.equal(matcher('  team-.* ').text, 'team-.*');
  });

  void test('an unbalanced entry cannot escape the whole-name group', () => {
    assert.match(error(compileRegex('a)|(b')), /"a\)\|\(b" is not a valid regular expression/);
  });

  void test('invalid regexes are reported with the entry, never thrown', () => {
    for (const entry of ['a(', '[z-a]', 'a\\', '(?=x)', 'x**', 'a{1001}']) {
      const message = error(compileRegex(entry));
      assert.ok(message.includes(JSON.stringify(entry)), message);
      assert.match(message, /not a valid regular expression/);
    }
  });

  void test('a glob-style * gets a hint towards .*', () => {
    assert.match(error(compileRegex('*-prod')), /"\.\*"/);
  });

  void test('empty entries are errors when compiled directly', () => {
    assert.match(error(compileRegex('   ')), /empty/);
  });

  void test('caps the length of one pattern', () => {
    value(compileRegex('a'.repeat(MAX_PATTERN_LENGTH)));
    assert.match(error(compileRegex('a'.repeat(MAX_PATTERN_LENGTH + 1))), /limit is 1024/);
  });

  void test('caps the compiled program size', () => {
    assert.match(error(compileRegex('\\pL{1000}'.repeat(20))), /too complex/);
    value(compileRegex('[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'));
  });
});

void describe('hostile inputs', () => {
  const name63 = 'a'.repeat(63);
  const catastrophic: readonly [pattern: string, name: string, expected: boolean][] = [
    ['(a+)+$', name63, true],
    ['(a+)+$', `${'a'.repeat(62)}!`, false],
    ['(a+)+b', name63, false],
    ['(a|a)*b', name63, false],
    ['(a|aa)+$', `${'a'.repeat(62)}-`, false],
    ['(.*a){20}', `${'a'.repeat(19)}${'b'.repeat(44)}`, false],
    ['(x+x+)+y', 'x'.repeat(63), false],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', name63, false],
    ['((((((((((a*)*)*)*)*)*)*)*)*)*)b', name63, false],
  ];
  void test(
    'catastrophic patterns against names up to 63 characters finish (checked off-thread)',
    GUARD,
    async () => {
      const results = await matchInWorker(catastrophic.map(([pattern, name]) => [pattern, name]));
      assert.deepEqual(
        results,
        catastrophic.map(([, , expected]) => expected),
      );
    },
  );

  const rejected: readonly [entry: string, reason: RegExp][] = [
    ['“team-a”', /typographic quote “ \(U\+201C\)/],
    ['‘team-a’', /typographic quote ‘ \(U\+2018\)/],
    ['team-«a»', /typographic quote/],
    ['"team-a"', /wrapped in quotes/],
    ["'team-a", /wrapped in quotes/],
    ['team-a team-b', /whitespace.*separate entries with commas/],
    ['team-a\tb', /control character U\+0009|whitespace/],
    ['team\u200b-a', /invisible or control character U\+200B/],
    ['team\ufeff-a', /invisible or control character U\+FEFF/],
    ['team\u0000', /control character U\+0000/],
  ];
  for (const [entry, reason] of rejected) {
    void test(`rejects ${JSON.stringify(entry)} in regexes and globs`, () => {
      assert.match(error(compileRegex(entry)), reason);
      assert.match(error(compileGlob(entry)), reason);
    });
  }

  void test('stray whitespace around entries and empty entries are harmless', () => {
    const patterns = value(compileRegexList('  team-a ,, ,\tteam-b\n, '));
    assert.deepEqual(
      patterns.map((pattern) => pattern.text),
      ['team-a', 'team-b'],
    );
  });

  void test('non-breaking spaces and a byte-order mark around an entry are trimmed like spaces', () => {
    assert.equal(matcher('\u00a0team-a\u00a0').test('team-a'), true);
    assert.equal(matcher('\ufeffteam-a').test('team-a'), true);
  });

  void test('unicode entries compile and match by code point', () => {
    assert.equal(matcher('équipe-.').test('équipe-é'), true);
    assert.equal(matcher('.').test('😀'), true);
    assert.equal(matcher('é').test('e'), false);
    assert.equal(matcher('?', compileGlob).test('😀'), true);
  });

  void test('a huge list value is refused with a short message', () => {
    const message = error(compileRegexList('a,'.repeat(100_000)));
    assert.match(message, /100000 entries; the limit is 256/);
    assert.ok(message.length < 200);
  });

  void test('a huge single value is refused with a short message', () => {
    const message = error(compileRegexList('x'.repeat(300_000)));
    assert.match(message, /limit is 1024/);
    assert.ok(message.length < 300);
  });

  void test('a list of many bad entries reports a few and counts the rest', () => {
    const message = error(compileRegexList('a(,b(,c(,d(,e('));
    assert.match(message, /"a\("/);
    assert.match(message, /and 2 more$/);
    assert.doesNotMatch(message, /"e\("/);
  });

  void test('list limits: 256 entries pass, 257 fail', () => {
    const list = (count: number) => Array.from({ length: count }, (_, index) => `ns-${index}`).join(',');
    assert.equal(value(compileRegexList(list(MAX_PATTERN_ENTRIES))).length, MAX_PATTERN_ENTRIES);
    assert.match(error(compileRegexList(list(MAX_PATTERN_ENTRIES + 1))), /limit is 256/);
    assert.match(error(compileGlobList(list(MAX_PATTERN_ENTRIES + 1))), /limit is 256/);
    assert.match(error(compileNamespaceGlobList(list(MAX_PATTERN_ENTRIES + 1))), /limit is 256/);
  });
});

void describe('compileGlob', () => {
  void test('* is any run of characters, whole-name', () => {
    const team = matcher('team-*', compileGlob);
    for (const name of ['team-a', 'team-', 'team-a-b']) assert.equal(team.test(name), true, name);
    for (const name of ['xteam-a', 'team', 'my-team-a']) assert.equal(team.test(name), false, name);
  });

  void test('? is exactly one character', () => {
    const one = matcher('ns?', compileGlob);
    assert.equal(one.test('ns1'), true);
    assert.equal(one.test('ns'), false);
    assert.equal(one.test('ns12'), false);
  });

  void test('everything else is literal, including regex syntax', () => {
    assert.equal(matcher('a.b', compileGlob).test('axb'), false);
    assert.equal(matcher('a.b', compileGlob).test('a.b'), true);
    assert.equal(matcher('a+', compileGlob).test('aa'), false);
    assert.equal(matcher('a+', compileGlob).test('a+'), true);
    assert.equal(matcher('(a|b)', compileGlob).test('(a|b)'), true);
    assert.equal(matcher('[ab]', compileGlob).test('a'), false);
    assert.equal(matcher('\\', compileGlob).test('\\'), true);
  });

  void test('a run of stars is every name, and a plain name is itself', () => {
    assert.equal(matcher('**', compileGlob).test(''), true);
    assert.equal(matcher('prod', compileGlob).test('prod'), true);
    assert.equal(matcher('prod', compileGlob).test('production'), false);
  });
});

void describe('compileNamespaceGlobList', () => {
  void test('splits includes from ! exclusions', () => {
    const list = value(compileNamespaceGlobList('team-*, prod, !team-legacy, ! team-old'));
    assert.deepEqual(
      list.includes.map((pattern) => pattern.text),
      ['team-*', 'prod'],
    );
    assert.deepEqual(
      list.excludes.map((pattern) => pattern.text),
      ['team-legacy', 'team-old'],
    );
  });

  void test('a bare ! is an error', () => {
    assert.match(error(compileNamespaceGlobList('team-*, !')), /"!" must be followed/);
  });

  void test('entries that can never match a namespace are errors', () => {
    for (const entry of ['Prod', 'team_*', 'a.b', '!Team', 'a!b']) {
      assert.match(error(compileNamespaceGlobList(entry)), /can never match a namespace/, entry);
    }
  });
});

void describe('properties', () => {
  const regexish = fc.string({
    unit: fc.constantFrom(
      'a',
      'b',
      '(',
      ')',
      '|',
      '*',
      '+',
      '?',
      '{',
      '}',
      ',',
      '1',
      '[',
      ']',
      '^',
      '$',
      '\\',
      '.',
      '-',
    ),
    maxLength: 40,
  });

  void test('compileRegex and compileGlob never throw, and compiled matchers never throw', GUARD, () => {
    fc.assert(
      fc.property(
        fc.oneof(regexish, fc.string({ unit: 'binary', maxLength: 40 })),
        fc.string({ maxLength: 63 }),
        (entry, name) => {
          for (const compile of [compileRegex, compileGlob]) {
            const compiled = compile(entry);
            if (compiled.ok) assert.equal(typeof compiled.value.test(name), 'boolean');
            else assert.ok(compiled.error.length > 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  void test('list compilers never throw on arbitrary text', GUARD, () => {
    fc.assert(
      fc.property(fc.oneof(regexish, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        for (const compile of [compileRegexList, compileGlobList, compileNamespaceGlobList]) {
          const compiled: Result<unknown> = compile(text);
          assert.equal(typeof compiled.ok, 'boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  void test(
    'generated nested-quantifier patterns finish against 63-character names (off-thread)',
    GUARD,
    async () => {
      const atom = fc.constantFrom('a', 'a*', 'a+', '(a|aa)', '(a+)+', '(a*)*', '.*', '(.*a)');
      const generated = fc.sample(
        fc.tuple(fc.array(atom, { minLength: 1, maxLength: 12 }), fc.constantFrom('!', 'b', '')),
        { numRuns: 300, seed: 7 },
      );
      const cases = generated.map(
        ([atoms, tail]) => [`(${atoms.join('')})+`, `${'a'.repeat(63 - tail.length)}${tail}`] as const,
      );
      const results = await matchInWorker(cases);
      assert.ok(Array.isArray(results));
      assert.equal(results.length, cases.length);
      for (const result of results) assert.equal(typeof result, 'boolean');
    },
  );

  const nameChars = fc.string({ unit: fc.constantFrom('a', 'b', '0', '-'), maxLength: 20 });

  void test('a literal entry matches only the whole name (regex and glob)', () => {
    fc.assert(
      fc.property(
        nameChars.filter((word) => word.length > 0),
        nameChars,
        nameChars,
        (word, prefix, suffix) => {
          fc.pre(prefix.length + suffix.length > 0);
          for (const compile of [compileRegex, compileGlob]) {
            const pattern = matcher(word, compile);
            assert.equal(pattern.test(word), true);
            assert.equal(pattern.test(`${prefix}${word}${suffix}`), false);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  /** An independent glob oracle: plain recursion, fine for the short inputs generated here. */
  function globOracle(glob: readonly string[], name: readonly string[]): boolean {
    const [head, ...rest] = glob;
    if (head === undefined) return name.length === 0;
    if (head === '*')
      return name.some((_, index) => globOracle(rest, name.slice(index))) || globOracle(rest, []);
    if (name.length === 0) return false;
    return (head === '?' || head === name[0]) && globOracle(rest, name.slice(1));
  }

  void test('globs agree with an independent matcher', () => {
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), minLength: 1, maxLength: 8 });
    const name = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 8 });
    fc.assert(
      fc.property(glob, name, (pattern, candidate) => {
        assert.equal(
          matcher(pattern, compileGlob).test(candidate),
          globOracle(pattern.split(''), candidate.split('')),
          `${pattern} vs ${candidate}`,
        );
      }),
      { numRuns: 1000 },
    );
  });
});
