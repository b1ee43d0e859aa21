/**
 * The cert-manager `secret-template` recipes of docs/annotations.md, read from the page itself:
 * each value is JSON of the shape cert-manager accepts (an object with `annotations` and `labels`
 * maps of strings, nothing else), valid in YAML as written, and gives nsync exactly the push rule
 * its comment describes, with no problem reported. A typo on the page fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { evaluateFilter } from '../src/rules/filter.ts';
import { parseSource } from '../src/rules/parse.ts';

const page = readFileSync(join(import.meta.dirname, '..', 'docs', 'annotations.md'), 'utf8');
const KEY = 'cert-manager.io/secret-template';

/** Each `# <comment>` line followed by a secret-template line, from the page's YAML blocks. */
const recipes = [...page.matchAll(/^# (.+)\ncert-manager\.io\/secret-template: (.+)$/gm)].map((match) => ({
  comment: match[1] ?? '',
  line: `${KEY}: ${match[2] ?? ''}`,
}));

test('the page has a secret-template recipe for every dialect', () => {
  assert.deepEqual(
    recipes.map(({ comment }) => comment.split(/[ ,]/)[0]),
    ['native', 'native', 'reflector', 'replicator', 'kubed'],
  );
});

const namespace = (name: string, labels: Record<string, string> = {}) => ({
  name,
  labels,
  terminating: false,
});

for (const { comment, line } of recipes) {
  test(`secret-template recipe "${comment}"`, () => {
    const value = (parseYaml(line) as Record<string, unknown>)[KEY];
    assert.equal(typeof value, 'string', 'the YAML value is one string');
    const template = JSON.parse(value as string) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(template).filter((field) => field !== 'annotations' && field !== 'labels'),
      [],
      'cert-manager accepts no other field',
    );
    for (const field of ['annotations', 'labels']) {
      for (const [key, text] of Object.entries((template[field] ?? {}) as Record<string, unknown>)) {
        assert.equal(typeof text, 'string', `${field}.${key} is a JSON string`);
      }
    }
    const annotations = template['annotations'] as Record<string, string>;
    const spec = parseSource('Secret', 'edge', 'wildcard-example-com-tls', annotations, 'kubernetes.io/tls');
    assert.deepEqual(spec.problems, []);
    assert.deepEqual(spec.unsupported, []);
    assert.equal(spec.push.length, 1, 'one push rule');
    const rule = spec.push[0];
    assert.equal(rule?.dialect, comment.split(/[ ,]/)[0]);
    const matches = (candidate: ReturnType<typeof namespace>): boolean =>
      rule !== undefined && evaluateFilter(rule.targets, candidate).match;
    assert.ok(
      matches(namespace('team-a', { tls: 'wildcard' })),
      'team-a (labelled tls=wildcard) gets a mirror',
    );
    assert.ok(!matches(namespace('other')), 'an unlabelled namespace of another name gets none');
    if (comment.includes('but team-legacy')) {
      assert.ok(!matches(namespace('team-legacy', { tls: 'wildcard' })), 'team-legacy gets none');
    }
  });
}
