/**
 * Evaluates a NamespaceFilter against one namespace and says why, so that logs, Events and
 * `nsync explain` can tell a person why a namespace did or did not get a mirror.
 */
import type { LabelSelector, NamespaceFilter, NamespaceInfo, SelectorRequirement } from './model.ts';

/** The verdict of a filter on one namespace, with the reason in words. */
export interface FilterVerdict {
  readonly match: boolean;
  readonly why: string;
}

/** Whether one selector requirement holds for a label set. */
export function requirementMatches(
  requirement: SelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.op) {
    case 'exists':
      return has;
    case 'doesnotexist':
      return !has;
    case 'in':
      return has && value !== undefined && requirement.values.includes(value);
    case 'notin':
      return !has || value === undefined || !requirement.values.includes(value);
  }
}

/** Whether a label set satisfies every requirement of a selector. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((requirement) => requirementMatches(requirement, labels));
}

/**
 * Whether a filter selects a namespace: evaluateFilter's `match` without its reason. A plan asks
 * this of every namespace, and the reasons are words only a refusal needs — built for each of
 * 1,000 namespaces, they were a tenth of what a fan-out allocated (docs/adr/0025).
 */
export function filterMatches(filter: NamespaceFilter, namespace: NamespaceInfo): boolean {
  switch (filter.op) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'names':
      for (const pattern of filter.patterns) if (pattern.test(namespace.name)) return true;
      return false;
    case 'selector':
      return selectorMatches(filter.selector, namespace.labels);
    case 'and':
      for (const part of filter.of) if (!filterMatches(part, namespace)) return false;
      return true;
    case 'or':
      for (const part of filter.of) if (filterMatches(part, namespace)) return true;
      return false;
    case 'not':
      return !filterMatches(filter.of, namespace);
  }
}

/** Evaluates a filter on a namespace, with the reason in words. */
export function evaluateFilter(filter: NamespaceFilter, namespace: NamespaceInfo): FilterVerdict {
  switch (filter.op) {
    case 'all':
      return { match: true, why: 'all namespaces are selected' };
    case 'none':
      return { match: false, why: 'no namespace is selected' };
    case 'names': {
      const hit = filter.patterns.find((pattern) => pattern.test(namespace.name));
      return hit
        ? { match: true, why: `name matches "${hit.text}"` }
        : {
            match: false,
            why: `name matches none of "${filter.patterns.map((pattern) => pattern.text).join(', ')}"`,
          };
    }
    case 'selector':
      return selectorMatches(filter.selector, namespace.labels)
        ? { match: true, why: `labels match "${filter.selector.text}"` }
        : { match: false, why: `labels do not match "${filter.selector.text}"` };
    case 'and': {
      const verdicts = filter.of.map((part) => evaluateFilter(part, namespace));
      const failed = verdicts.find((verdict) => !verdict.match);
      return failed ?? { match: true, why: verdicts.map((verdict) => verdict.why).join(' and ') };
    }
    case 'or': {
      const verdicts = filter.of.map((part) => evaluateFilter(part, namespace));
      const passed = verdicts.find((verdict) => verdict.match);
      return (
        passed ?? {
          match: false,
          why: verdicts.map((verdict) => verdict.why).join(' and ') || 'nothing is selected',
        }
      );
    }
    case 'not': {
      const inner = evaluateFilter(filter.of, namespace);
      return inner.match
        ? { match: false, why: `excluded: ${inner.why}` }
        : { match: true, why: `not excluded (${inner.why})` };
    }
  }
}
