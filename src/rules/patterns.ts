/**
 * Compiles the namespace pattern lists of every dialect into whole-name matchers.
 *
 * Why this is its own careful module: patterns are written by whoever may annotate a Secret, and
 * they are evaluated against every namespace on every reconcile. The originals used backtracking
 * engines (a hostile `(a+)+$` could stall them), matched unanchored on some paths (`foo` hit
 * `xfoobar`) and died on `*`. Here every regex runs on re2js (linear time), every match is
 * whole-name, program size and list length are capped, and every mistake becomes a message that
 * names the entry — never an exception.
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';
import type { NamePattern } from './model.ts';
import { fail, ok, quote, type Result } from './result.ts';

/** Longest entry accepted: far beyond any real namespace pattern, short enough to compile fast. */
export const MAX_PATTERN_LENGTH = 1024;

/** Most entries in one list: a list longer than this is a generated mistake, not a rule. */
export const MAX_PATTERN_ENTRIES = 256;

/**
 * Largest compiled regex program (instructions). Matching is linear in the name but also in the
 * program size; `\pL{1000}` repeated a hundred times fits in 1,024 characters yet costs
 * milliseconds per namespace. Real namespace patterns compile to well under a thousand.
 */
export const MAX_PROGRAM_SIZE = 5000;

/** How many entry errors one message lists before summarising, so a bad list stays readable. */
const MAX_REPORTED_ERRORS = 3;

/**
 * Typographic quotes that word processors and chat tools substitute for `"` and `'`. No namespace
 * name contains them, so an entry holding one can only be a copy-paste accident.
 */
const TYPOGRAPHIC_QUOTES =
  /[\u2018\u2019\u201A\u201B\u201C\u201D\u201E\u201F\u00AB\u00BB\u2039\u203A\u2032\u2033]/u;
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}]/u;
const WHITESPACE = /\s/u;

/**
 * Splits a comma-separated list the way every dialect does: entries trimmed, empty ones dropped.
 * Returns raw entries; callers decide what an empty list means (it differs by dialect).
 */
export function parsePatternList(text: string): string[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Rejects entries that can only be accidents, before any compilation: they would compile fine and
 * then silently match nothing, which is the hardest kind of mistake for a user to find.
 */
function hygieneProblem(entry: string): string | undefined {
  if (entry.length > MAX_PATTERN_LENGTH) {
    return `pattern ${quote(entry)} is ${entry.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`;
  }
  const typographic = TYPOGRAPHIC_QUOTES.exec(entry);
  if (typographic) {
    return `pattern ${quote(entry)} contains the typographic quote ${typographic[0]} (${codePoint(typographic[0])}), which no name can contain; write the pattern without quotes`;
  }
  if (/^["']|["']$/u.test(entry)) {
    return `pattern ${quote(entry)} is wrapped in quotes, which no name can contain; write the pattern without quotes`;
  }
  const invisible = INVISIBLE_OR_CONTROL.exec(entry);
  if (invisible) {
    return `pattern ${quote(entry)} contains the invisible or control character ${codePoint(invisible[0])}; retype the pattern`;
  }
  if (WHITESPACE.test(entry)) {
    return `pattern ${quote(entry)} contains whitespace, which no name can contain; separate entries with commas`;
  }
  return undefined;
}

/** re2js's reason without its "error parsing regexp" preamble, plus the offending fragment. */
function errorDescription(error: unknown): string {
  if (error instanceof RE2JSSyntaxException) {
    const fragment = error.getPattern();
    return fragment === null || fragment.length === 0
      ? error.getDescription()
      : `${error.getDescription()} at ${quote(fragment)}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Compiles one pattern known to be a valid entry into a whole-name matcher. The entry is compiled
 * alone first so that an unbalanced `a)|(b` is reported instead of escaping a wrapping group.
 */
function compileWholeName(text: string, expression: string): Result<NamePattern> {
  let compiled: RE2JS;
  try {
    RE2JS.compile(expression);
    compiled = RE2JS.compile(`(?:${expression})`);
  } catch (error: unknown) {
    const description = errorDescription(error);
    const hint =
      text.includes('*') && /repetition/.test(description)
        ? '; in a regular expression "any characters" is written ".*"'
        : '';
    return fail(`pattern ${quote(text)} is not a valid regular expression: ${description}${hint}`);
  }
  if (compiled.programSize() > MAX_PROGRAM_SIZE) {
    return fail(
      `pattern ${quote(text)} is too complex (${compiled.programSize()} instructions, limit ${MAX_PROGRAM_SIZE}); simplify its repetitions`,
    );
  }
  return ok({ text, test: (name: string) => compiled.testExact(name) });
}

/** The pattern every dialect user means by a lone `*`: every name, whatever the dialect's syntax. */
function everyName(text: string): NamePattern {
  return { text, test: () => true };
}

/**
 * Compiles one regex entry (reflector, replicator) into a whole-name matcher: `foo` matches `foo`
 * only, never `xfoobar`, as if written `^(?:foo)$`. A lone `*` means every name, because users of
 * both dialects write it although it is not a regex. Matching is linear in the name.
 */
export function compileRegex(entry: string): Result<NamePattern> {
  const text = entry.trim();
  if (text.length === 0) return fail('a pattern must not be empty');
  const problem = hygieneProblem(text);
  if (problem !== undefined) return fail(problem);
  if (text === '*') return ok(everyName(text));
  return compileWholeName(text, text);
}

/**
 * Compiles one native glob: `*` is any run of characters, `?` one character, everything else is
 * literal; whole-name. Globs exist so native users never need regex escaping for the common
 * "team-*" case. Compiled through re2js too, so matching is linear whatever the glob.
 */
export function compileGlob(entry: string): Result<NamePattern> {
  const text = entry.trim();
  if (text.length === 0) return fail('a pattern must not be empty');
  const problem = hygieneProblem(text);
  if (problem !== undefined) return fail(problem);
  if (/^\*+$/u.test(text)) return ok(everyName(text));
  // No wildcard: the name itself. A plan tests every namespace against every pattern, and a
  // comparison allocates nothing where the regex matcher did (`!default` in a 1,000-namespace fan-out).
  if (!text.includes('*') && !text.includes('?')) return ok({ text, test: (name: string) => name === text });
  let expression = '';
  for (const char of text) {
    if (char === '*') expression += '.*';
    else if (char === '?') expression += '.';
    else expression += RE2JS.quote(char);
  }
  return compileWholeName(text, `(?s:${expression})`);
}

/** Joins entry errors into one message, bounded so a list of 256 bad entries stays readable. */
function joinErrors(errors: readonly string[]): string {
  const shown = errors.slice(0, MAX_REPORTED_ERRORS).join('; ');
  const rest = errors.length - MAX_REPORTED_ERRORS;
  return rest > 0 ? `${shown}; and ${rest} more` : shown;
}

function compileEntries(
  entries: readonly string[],
  compile: (entry: string) => Result<NamePattern>,
): Result<NamePattern[]> {
  if (entries.length > MAX_PATTERN_ENTRIES) {
    return fail(`the list has ${entries.length} entries; the limit is ${MAX_PATTERN_ENTRIES}`);
  }
  const patterns: NamePattern[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    const compiled = compile(entry);
    if (compiled.ok) patterns.push(compiled.value);
    else errors.push(compiled.error);
  }
  return errors.length > 0 ? fail(joinErrors(errors)) : ok(patterns);
}

/**
 * Compiles a comma-separated regex list. All entries must be valid: one bad entry fails the list,
 * because silently dropping it would widen or narrow where Secrets go without anyone noticing.
 * An empty list compiles to no patterns; what that means is the dialect's decision.
 */
export function compileRegexList(text: string): Result<NamePattern[]> {
  return compileEntries(parsePatternList(text), compileRegex);
}

/** Compiles a comma-separated glob list; all-or-nothing like `compileRegexList`. */
export function compileGlobList(text: string): Result<NamePattern[]> {
  return compileEntries(parsePatternList(text), compileGlob);
}

/** A native namespace list split into what it includes and what it excludes (`!` entries). */
export interface NamespaceGlobList {
  /** Entries without `!`; empty when the list has only exclusions (the caller defaults to all). */
  readonly includes: readonly NamePattern[];
  /** Entries written with a leading `!`, compiled without it. */
  readonly excludes: readonly NamePattern[];
}

/** The names a split glob list is about: what a `!` must be followed by, and their alphabet. */
export interface GlobAlphabet {
  /** "namespace", "cluster name": named in the message of a bare `!`. */
  readonly noun: string;
  /** Characters a glob may hold: the names' alphabet plus the two wildcards. */
  readonly valid: RegExp;
  /** Why an entry outside the alphabet can never match. */
  readonly outside: (glob: string) => string;
}

/**
 * Compiles a list such as `team-*, prod, !team-legacy` into includes and `!` excludes. Besides
 * glob syntax it rejects entries outside the names' alphabet, because a user who writes `Prod` or
 * `team_*` for a namespace wants to hear about it rather than get no mirrors.
 */
export function compileSplitGlobList(text: string, alphabet: GlobAlphabet): Result<NamespaceGlobList> {
  const entries = parsePatternList(text);
  if (entries.length > MAX_PATTERN_ENTRIES) {
    return fail(`the list has ${entries.length} entries; the limit is ${MAX_PATTERN_ENTRIES}`);
  }
  const includes: NamePattern[] = [];
  const excludes: NamePattern[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    const excluded = entry.startsWith('!');
    const glob = excluded ? entry.slice(1).trim() : entry;
    if (glob.length === 0) {
      errors.push(`"!" must be followed by the ${alphabet.noun} (or glob) to exclude`);
      continue;
    }
    const compiled = compileGlob(glob);
    if (!compiled.ok) {
      errors.push(compiled.error);
      continue;
    }
    if (!alphabet.valid.test(glob)) {
      errors.push(alphabet.outside(glob));
      continue;
    }
    (excluded ? excludes : includes).push(compiled.value);
  }
  return errors.length > 0 ? fail(joinErrors(errors)) : ok({ includes, excludes });
}

/** Namespace names: lowercase letters, digits and "-". */
const NAMESPACE_ALPHABET: GlobAlphabet = {
  noun: 'namespace',
  valid: /^[-a-z0-9*?]+$/u,
  outside: (glob) =>
    `pattern ${quote(glob)} can never match a namespace: namespace names have only lowercase letters, digits and "-" (globs add "*" and "?")`,
};

/** Compiles a native namespace list such as `team-*, prod, !team-legacy`. */
export function compileNamespaceGlobList(text: string): Result<NamespaceGlobList> {
  return compileSplitGlobList(text, NAMESPACE_ALPHABET);
}
