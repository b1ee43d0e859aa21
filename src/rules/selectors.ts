/**
 * Parses Kubernetes label selector strings (`env=prod,tier in (a,b),!legacy`) into `LabelSelector`.
 *
 * Every dialect that targets namespaces by label writes this syntax, and users copy selectors
 * between kubectl and annotations, so the grammar and the key/value rules follow Kubernetes: a
 * selector kubectl accepts is accepted here and means the same. Set-based `gt`/`lt` (`>`, `<`) is
 * rejected with a clear message because no dialect documents it for namespaces.
 *
 * A hand-written scanner: linear in the text, no regex on the raw input, never throws.
 */
import type { LabelSelector, SelectorRequirement } from './model.ts';
import { labelKeyProblem, labelValueProblem } from './names.ts';
import { fail, ok, quote, type Result } from './result.ts';

type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'in' | 'notin' | 'eq' | 'neq' | 'not' | 'open' | 'close' | 'comma' | 'end' }
  | { readonly kind: 'compare'; readonly text: string };

/** Characters that end a word; everything else that is not whitespace belongs to one. */
const SYMBOLS = new Set(['=', '!', '(', ')', ',', '<', '>']);

function isSpace(char: string): boolean {
  return /\s/u.test(char);
}

/** Splits the text into tokens; whitespace only separates. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    const next = text.charAt(index + 1);
    if (isSpace(char)) {
      index += 1;
    } else if (char === '=') {
      index += next === '=' ? 2 : 1;
      tokens.push({ kind: 'eq' });
    } else if (char === '!') {
      index += next === '=' ? 2 : 1;
      tokens.push({ kind: next === '=' ? 'neq' : 'not' });
    } else if (char === '(') {
      index += 1;
      tokens.push({ kind: 'open' });
    } else if (char === ')') {
      index += 1;
      tokens.push({ kind: 'close' });
    } else if (char === ',') {
      index += 1;
      tokens.push({ kind: 'comma' });
    } else if (char === '<' || char === '>') {
      index += 1;
      tokens.push({ kind: 'compare', text: char });
    } else {
      let end = index;
      while (end < text.length && !isSpace(text.charAt(end)) && !SYMBOLS.has(text.charAt(end))) end += 1;
      const word = text.slice(index, end);
      index = end;
      tokens.push(word === 'in' || word === 'notin' ? { kind: word } : { kind: 'word', text: word });
    }
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'word':
    case 'compare':
      return quote(token.text);
    case 'in':
      return '"in"';
    case 'notin':
      return '"notin"';
    case 'eq':
      return '"="';
    case 'neq':
      return '"!="';
    case 'not':
      return '"!"';
    case 'open':
      return '"("';
    case 'close':
      return '")"';
    case 'comma':
      return '","';
    case 'end':
      return 'the end';
  }
}

/** A cursor over the tokens; each parse step returns a Result so errors carry the context. */
class Cursor {
  readonly #tokens: readonly Token[];
  #position = 0;

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens;
  }

  peek(): Token {
    return this.#tokens[this.#position] ?? { kind: 'end' };
  }

  take(): Token {
    const token = this.peek();
    if (this.#position < this.#tokens.length) this.#position += 1;
    return token;
  }
}

function checkKey(key: string): Result<string> {
  const problem = labelKeyProblem(key);
  return problem === undefined ? ok(key) : fail(`label key ${quote(key)} is invalid: ${problem}`);
}

function checkValue(key: string, value: string): Result<string> {
  const problem = labelValueProblem(value);
  return problem === undefined
    ? ok(value)
    : fail(`value ${quote(value)} of ${quote(key)} is invalid: ${problem}`);
}

/** Sorted and deduplicated, as Kubernetes stores set values, so equal selectors compare equal. */
function canonicalValues(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** `(a, b, )`: the cursor is on `(`. Empty entries are empty values, as in Kubernetes. */
function parseValueSet(cursor: Cursor, key: string): Result<string[]> {
  const open = cursor.take();
  if (open.kind !== 'open')
    return fail(`expected "(" after the operator of ${quote(key)}, found ${describe(open)}`);
  const values: string[] = [];
  let expectValue = true;
  for (;;) {
    const token = cursor.take();
    if (token.kind === 'word' && expectValue) {
      const value = checkValue(key, token.text);
      if (!value.ok) return value;
      values.push(value.value);
      expectValue = false;
    } else if (token.kind === 'comma') {
      if (expectValue) values.push('');
      expectValue = true;
    } else if (token.kind === 'close') {
      if (expectValue) values.push('');
      return ok(canonicalValues(values));
    } else {
      return fail(`expected a value, "," or ")" in the set of ${quote(key)}, found ${describe(token)}`);
    }
  }
}

/** `k=v` / `k==v` / `k!=v`: a missing value (`k=`) is the empty value, as in Kubernetes. */
function parseExactValue(cursor: Cursor, key: string): Result<string> {
  const token = cursor.peek();
  if (token.kind === 'comma' || token.kind === 'end') return ok('');
  cursor.take();
  if (token.kind !== 'word')
    return fail(`expected a value after the operator of ${quote(key)}, found ${describe(token)}`);
  return checkValue(key, token.text);
}

function parseRequirement(cursor: Cursor): Result<SelectorRequirement> {
  const first = cursor.take();
  if (first.kind === 'not') {
    const keyToken = cursor.take();
    if (keyToken.kind !== 'word') return fail(`expected a label key after "!", found ${describe(keyToken)}`);
    const key = checkKey(keyToken.text);
    return key.ok ? ok({ key: key.value, op: 'doesnotexist' }) : key;
  }
  if (first.kind !== 'word') return fail(`expected a label key, found ${describe(first)}`);
  const key = checkKey(first.text);
  if (!key.ok) return key;
  const operator = cursor.peek();
  switch (operator.kind) {
    case 'comma':
    case 'end':
      return ok({ key: key.value, op: 'exists' });
    case 'eq':
    case 'neq': {
      cursor.take();
      const value = parseExactValue(cursor, key.value);
      if (!value.ok) return value;
      return ok({ key: key.value, op: operator.kind === 'eq' ? 'in' : 'notin', values: [value.value] });
    }
    case 'in':
    case 'notin': {
      cursor.take();
      const values = parseValueSet(cursor, key.value);
      if (!values.ok) return values;
      return ok({ key: key.value, op: operator.kind, values: values.value });
    }
    case 'compare':
      return fail(
        `the operator ${describe(operator)} after ${quote(key.value)} is not supported; use =, !=, in or notin`,
      );
    case 'word':
    case 'not':
    case 'open':
    case 'close':
      return fail(`expected an operator or "," after ${quote(key.value)}, found ${describe(operator)}`);
  }
}

/**
 * Parses a selector. Empty (or blank) text yields a selector with no requirements, which matches
 * every namespace — callers decide whether an empty annotation means that or "not set".
 */
export function parseSelector(text: string): Result<LabelSelector> {
  const trimmed = text.trim();
  const cursor = new Cursor(tokenize(trimmed));
  const requirements: SelectorRequirement[] = [];
  if (cursor.peek().kind === 'end') return ok({ text: trimmed, requirements });
  for (;;) {
    const requirement = parseRequirement(cursor);
    if (!requirement.ok) return fail(`selector ${quote(trimmed)}: ${requirement.error}`);
    requirements.push(requirement.value);
    const separator = cursor.take();
    if (separator.kind === 'end') return ok({ text: trimmed, requirements });
    if (separator.kind !== 'comma') {
      return fail(
        `selector ${quote(trimmed)}: expected "," between requirements, found ${describe(separator)}`,
      );
    }
    if (cursor.peek().kind === 'end')
      return fail(`selector ${quote(trimmed)}: a requirement must follow ","`);
  }
}

function formatRequirement(requirement: SelectorRequirement): string {
  switch (requirement.op) {
    case 'exists':
      return requirement.key;
    case 'doesnotexist':
      return `!${requirement.key}`;
    case 'in':
      return requirement.values.length === 1
        ? `${requirement.key}=${requirement.values[0] ?? ''}`
        : `${requirement.key} in (${requirement.values.join(',')})`;
    case 'notin':
      return requirement.values.length === 1
        ? `${requirement.key}!=${requirement.values[0] ?? ''}`
        : `${requirement.key} notin (${requirement.values.join(',')})`;
  }
}

/**
 * Writes requirements back in canonical Kubernetes syntax, for messages and `explain` output that
 * should not depend on how a user spaced the original.
 */
export function formatSelector(selector: Pick<LabelSelector, 'requirements'>): string {
  return selector.requirements.map(formatRequirement).join(',');
}
