/**
 * What a reload of `--remote-kubeconfig` does to each context (docs/adr/0028), decided from
 * fingerprints alone so it can be tested without a cluster: an unchanged context keeps its
 * pipeline (no reconnect, no relist), a changed one is rebuilt, a new one added, a gone one removed.
 */

/** Context names by what happens to their pipelines; each list in the order of `after`, then `before`. */
export interface ContextDiff {
  readonly keep: readonly string[];
  readonly rebuild: readonly string[];
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

/** `before` and `after`: context name → fingerprint (kube/kubeconfig.ts loadEachContext). */
export function diffContexts(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): ContextDiff {
  const keep: string[] = [];
  const rebuild: string[] = [];
  const add: string[] = [];
  for (const [name, fingerprint] of after) {
    const old = before.get(name);
    if (old === undefined) add.push(name);
    else if (old === fingerprint) keep.push(name);
    else rebuild.push(name);
  }
  const remove = [...before.keys()].filter((name) => !after.has(name));
  return { keep, rebuild, add, remove };
}
