/**
 * Target consent: under `--target-consent`, a pushed mirror lands in a namespace only when that
 * namespace names the source's namespace in its `nsync.dev/accept-from` annotation (native globs,
 * `!` exclusions). Push is the one mode in which a namespace receives objects it never asked for;
 * in a cluster whose tenants do not trust each other, the receiving side must agree too.
 *
 * Pure: no I/O.
 */
import { ACCEPT_FROM_ANNOTATION } from './markers.ts';
import type { NamespaceInfo } from './model.ts';
import { compileNamespaceGlobList, type NamespaceGlobList } from './patterns.ts';
import type { Result } from './result.ts';

/** A namespace's answer to one source namespace, with the reason in words. */
export interface TargetConsentVerdict {
  readonly accepted: boolean;
  readonly why: string;
}

/**
 * Compiled lists by annotation text: a fan-out asks every namespace the same question, and most
 * namespaces share a handful of texts. Bounded, since the texts are tenants' input.
 */
const compiled = new Map<string, Result<NamespaceGlobList>>();
const MAX_COMPILED = 1000;

function compile(text: string): Result<NamespaceGlobList> {
  let result = compiled.get(text);
  if (result === undefined) {
    result = compileNamespaceGlobList(text);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(text, result);
  }
  return result;
}

/** Whether `namespace` accepts pushed mirrors from sources in `sourceNamespace`. */
export function acceptsFrom(namespace: NamespaceInfo, sourceNamespace: string): TargetConsentVerdict {
  const text = namespace.acceptFrom;
  if (text === undefined || text.trim() === '') {
    return {
      accepted: false,
      why: `namespace ${namespace.name} has no ${ACCEPT_FROM_ANNOTATION} annotation`,
    };
  }
  const list = compile(text);
  if (!list.ok) {
    return {
      accepted: false,
      why: `the ${ACCEPT_FROM_ANNOTATION} annotation of namespace ${namespace.name} is invalid (${list.error})`,
    };
  }
  const { includes, excludes } = list.value;
  const excluded = excludes.find((pattern) => pattern.test(sourceNamespace));
  if (excluded !== undefined) {
    return {
      accepted: false,
      why: `namespace ${namespace.name} excludes "${excluded.text}" in ${ACCEPT_FROM_ANNOTATION}`,
    };
  }
  const included =
    includes.length === 0 ? undefined : includes.find((pattern) => pattern.test(sourceNamespace));
  if (includes.length > 0 && included === undefined) {
    return {
      accepted: false,
      why: `${sourceNamespace} matches none of "${includes.map((pattern) => pattern.text).join(', ')}" in ${ACCEPT_FROM_ANNOTATION} of namespace ${namespace.name}`,
    };
  }
  return {
    accepted: true,
    why: `namespace ${namespace.name} accepts ${sourceNamespace} (${included === undefined ? 'all but its exclusions' : `"${included.text}"`})`,
  };
}
