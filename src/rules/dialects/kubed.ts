/**
 * The kubed / config-syncer dialect (`kubed.appscode.com/…`), as docs/reference dialects.md §3
 * describes it, so that manifests written for kubed keep their meaning. kubed only pushes: a
 * source's `sync` annotation is a namespace label selector, and copies get the source's labels and
 * annotations. Cross-cluster sync (`sync-contexts`) is not served yet and is reported as
 * unsupported; the in-cluster part of the same source still applies.
 */
import { kubed } from '../markers.ts';
import type { NamespaceFilter, PushRule, RuleProblem, SourceSpec } from '../model.ts';
import { parsePatternList } from '../patterns.ts';
import { quote } from '../result.ts';
import { parseSelector } from '../selectors.ts';
import {
  EMPTY_SOURCE_SPEC,
  problem,
  readAnnotation,
  type DialectAdapter,
  type DialectTargetResult,
  type SourceContext,
} from './adapter.ts';

const DIALECT = 'kubed';

/** How many context names one unsupported report repeats before summarising. */
const MAX_LISTED_CONTEXTS = 5;

/**
 * Reads `sync`. Unlike every other annotation nsync reads, an EMPTY value here means every
 * namespace: kubed documents `kubed.appscode.com/sync: ""` as its way to say "everywhere", and its
 * users rely on it. `"true"` means the same. Anything else is a namespace label selector, read as
 * kubed reads it (so `"True"` is the selector "has a label named True", not a boolean).
 * Undefined when the annotation is absent; a problem when the selector is invalid.
 */
function readSyncTargets(
  annotations: Readonly<Record<string, string>>,
  problems: RuleProblem[],
): { readonly requested: boolean; readonly filter: NamespaceFilter | undefined } {
  if (!Object.hasOwn(annotations, kubed.sync)) return { requested: false, filter: undefined };
  const text = (annotations[kubed.sync] ?? '').trim();
  if (text === '' || text === 'true') return { requested: true, filter: { op: 'all' } };
  const selector = parseSelector(text);
  if (!selector.ok) {
    problems.push(problem(DIALECT, kubed.sync, selector.error));
    return { requested: true, filter: undefined };
  }
  return { requested: true, filter: { op: 'selector', selector: selector.value } };
}

/** The report for `sync-contexts`: cross-cluster targets are asked for but not served. */
function contextsReport(text: string, syncsHere: boolean): RuleProblem {
  const contexts = parsePatternList(text);
  const shown = contexts.slice(0, MAX_LISTED_CONTEXTS).map((context) => quote(context));
  const more = contexts.length - shown.length;
  const listed = `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  const local = syncsHere ? `; the copies inside this cluster (${kubed.sync}) are still made` : '';
  return problem(
    DIALECT,
    kubed.syncContexts,
    `cross-cluster sync is not enabled in this nsync version, so nothing is copied to the context${contexts.length === 1 ? '' : 's'} ${listed}${local}`,
  );
}

function parseKubedSource(context: SourceContext): SourceSpec {
  const { annotations } = context;
  const problems: RuleProblem[] = [];
  const targets = readSyncTargets(annotations, problems);
  const contextsText = readAnnotation(annotations, kubed.syncContexts);
  const unsupported =
    contextsText === undefined || parsePatternList(contextsText).length === 0
      ? []
      : [contextsReport(contextsText, targets.filter !== undefined)];
  if (!targets.requested && unsupported.length === 0) return EMPTY_SOURCE_SPEC;
  const push: PushRule[] =
    targets.filter === undefined
      ? []
      : [
          {
            dialect: DIALECT,
            targets: targets.filter,
            targetName: context.name,
            copy: { labels: true, annotations: true, ownerReferences: false, keys: undefined },
          },
        ];
  return { push, consent: [], unsupported, problems };
}

/**
 * The contexts a source's `sync-contexts` names (trimmed, empty entries dropped, duplicates
 * removed): the remote clusters it is copied into when nsync runs with `--remote-kubeconfig`
 * (docs/adr/0018). Context names are compared as they are, like kubed does.
 */
export function syncContextsOf(annotations: Readonly<Record<string, string>>): string[] {
  const text = readAnnotation(annotations, kubed.syncContexts);
  return text === undefined ? [] : [...new Set(parsePatternList(text))];
}

/** kubed has no pull: nothing a target carries asks kubed to fill it. */
function parseKubedTarget(): DialectTargetResult {
  return { claim: undefined, pull: undefined, problems: [] };
}

/**
 * The kubed adapter. Push when `sync` is present: every namespace for `""`/`"true"`, else the
 * namespaces the label selector matches; same name; labels and annotations copied (the planner
 * leaves out the sync keys and GitOps tracking keys); no ownerReferences; all keys. No consent and
 * no pull. `sync-contexts` is reported in `unsupported`.
 */
export const kubedDialect: DialectAdapter = {
  dialect: DIALECT,
  parseSource: parseKubedSource,
  parseTarget: parseKubedTarget,
};
