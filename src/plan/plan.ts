/**
 * plan(snapshot): the whole of nsync's judgement for one source, as a pure function. It says, for
 * every namespace and target, what should be true and why, and lists the writes that make it
 * true. Reconcile only gathers the snapshot and carries out the writes, so everything that could
 * delete or overwrite the wrong object is decided here, where property tests can reach it.
 *
 * Pure and deterministic: no I/O, no clock, output sorted by namespace and name.
 */
import { evaluateFilter, filterMatches } from '../rules/filter.ts';
import {
  mirrorClaim,
  NEVER_MIRRORED_SECRET_TYPES,
  owned,
  unnamedMirrorClaim,
  type MirrorClaim,
} from '../rules/markers.ts';
import { IDENTITY_RESERVED_NAMESPACES, isIdentityKind, parseRoleRef } from '../rules/kinds.ts';
import { reservedName } from '../rules/reserved.ts';
import { acceptsFrom } from '../rules/target-consent.ts';
import { contentBytes, overBudget } from './budget.ts';
import { isRestore, judgeRestore } from './contest.ts';
import {
  formatOrigin,
  type Dialect,
  type NamespaceInfo,
  type ObjectKey,
  type PushRule,
} from '../rules/model.ts';
import type { Decision, ObjectMeta, Plan, PullTarget, Snapshot, SourceState, WriteOp } from './model.ts';
import {
  compareText,
  droppedKeys,
  formatRef,
  mirrorStaleness,
  ownValue,
  pullStaleness,
  renderMirror,
  renderPullPatch,
} from './render.ts';

/** One decision and the write, if any, that makes it true. */
interface Entry {
  readonly decision: Decision;
  readonly op?: WriteOp;
  /** A pull target to read before its op can be planned (Plan.readsFirst). */
  readonly read?: ObjectKey;
}

/**
 * Precedence of dialects when several push rules want the same mirror name: nsync's own rules
 * first, then the dialects in the order they were adopted.
 */
export const DIALECT_PRECEDENCE: readonly Dialect[] = ['native', 'reflector', 'replicator', 'kubed'];

/** Sort key of a dialect in DIALECT_PRECEDENCE. */
function dialectRank(dialect: Dialect): number {
  return DIALECT_PRECEDENCE.indexOf(dialect);
}

/** `namespace\0name`: a map key no object name can forge. */
function locationKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}

/** Orders by namespace, then name, then uid, so that input order never shows in the output. */
function compareObjects(a: ObjectMeta, b: ObjectMeta): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name) || compareText(a.uid, b.uid);
}

/** Push before pull, then by namespace and name: the order decisions and ops come out in. */
function compareEntries(a: Entry, b: Entry): number {
  const mode = a.decision.mode === b.decision.mode ? 0 : a.decision.mode === 'push' ? -1 : 1;
  return (
    mode ||
    compareText(a.decision.namespace, b.decision.namespace) ||
    compareText(a.decision.name, b.decision.name)
  );
}

/** `Secret ns/name`, how messages name an object. */
function describe(key: ObjectKey): string {
  return `${key.kind} ${formatRef(key.namespace, key.name)}`;
}

/** Namespaces by name, sorted; the first of duplicate names wins. */
function indexNamespaces(namespaces: readonly NamespaceInfo[]): Map<string, NamespaceInfo> {
  const byName = new Map<string, NamespaceInfo>();
  for (const namespace of namespaces) if (!byName.has(namespace.name)) byName.set(namespace.name, namespace);
  return new Map([...byName].sort(([a], [b]) => compareText(a, b)));
}

/** Whether a Secret type may never be a source or a mirror (Helm release records). */
function isNeverMirrored(source: SourceState): boolean {
  return (
    source.meta.kind === 'Secret' &&
    source.content.type !== undefined &&
    NEVER_MIRRORED_SECRET_TYPES.has(source.content.type)
  );
}

/**
 * The push rules in force, grouped by target name and ranked: rules of disabled dialects are
 * dropped, and within a name the order is DIALECT_PRECEDENCE, then the source's order. Which rule
 * of a group speaks for a namespace is ruleForNamespace's call. Sorted by target name.
 */
export function pushRulesByName(snapshot: Snapshot): ReadonlyMap<string, readonly PushRule[]> {
  const source = snapshot.source;
  if (source === undefined || isNeverMirrored(source)) return new Map();
  const enabled = source.spec.push.filter((rule) => snapshot.guardrails.dialects.has(rule.dialect));
  const ranked = [...enabled].sort((a, b) => dialectRank(a.dialect) - dialectRank(b.dialect));
  const byName = new Map<string, PushRule[]>();
  for (const rule of ranked) byName.set(rule.targetName, [...(byName.get(rule.targetName) ?? []), rule]);
  return new Map([...byName].sort(([a], [b]) => compareText(a, b)));
}

/**
 * The rule that decides one namespace's mirror of one name: the first of the ranked group that
 * selects the namespace, so a source migrating between dialects (`push-to: a` beside
 * `replicate-to: b`) keeps every namespace either rule asks for; when none selects it, the first
 * rule, whose decision then says so.
 */
function ruleForNamespace(rules: readonly PushRule[], namespace: NamespaceInfo): PushRule | undefined {
  if (rules.length <= 1) return rules[0];
  return rules.find((rule) => filterMatches(rule.targets, namespace)) ?? rules[0];
}

/** The source an object's markers name, read with this cluster's name (see Guardrails.clusterName). */
function claimOf(snapshot: Snapshot, object: ObjectMeta): MirrorClaim | undefined {
  return mirrorClaim(object.kind, object.labels, object.annotations, {
    clusterName: snapshot.guardrails.clusterName,
    remote: snapshot.remote === true,
  });
}

/** Whether an object's markers claim it as a push mirror of the snapshot's source. */
function claimsThisSource(snapshot: Snapshot, object: ObjectMeta): boolean {
  const claim = claimOf(snapshot, object);
  return (
    claim !== undefined &&
    claim.sourceNamespace === snapshot.key.namespace &&
    claim.sourceName === snapshot.key.name
  );
}

/** Whether an object is the source itself (by location or by uid), which is never a target. */
function isTheSource(snapshot: Snapshot, object: ObjectMeta): boolean {
  const sameLocation =
    snapshot.remote !== true &&
    object.kind === snapshot.key.kind &&
    object.namespace === snapshot.key.namespace &&
    object.name === snapshot.key.name;
  return sameLocation || (snapshot.source !== undefined && object.uid === snapshot.source.meta.uid);
}

/** Everything the push side needs for one source that exists. */
interface PushContext {
  readonly snapshot: Snapshot;
  readonly source: SourceState;
}

/** A push decision, and whether the location is one the source wants a mirror at. */
interface PushOutcome extends Entry {
  /** True when every guard passed: a mirror of this source belongs here (not an orphan). */
  readonly desired: boolean;
  /** True when the op adopts a replicator replica (see adoptableReplica): the push side owns it. */
  readonly adopted?: boolean;
}

/** Builds a push decision for namespace/name. */
function pushDecision(namespace: string, name: string, code: Decision['code'], message: string): Decision {
  return { namespace, name, mode: 'push', code, message };
}

/**
 * Why a location may never be a mirror target, or undefined when it may: a name Kubernetes or a
 * well-known controller creates by name (rules/reserved.ts), or a protected namespace (nsync's own).
 */
function reservedTarget(snapshot: Snapshot, namespace: string, name: string): string | undefined {
  const reserved = reservedName(snapshot.key.kind, name);
  if (reserved !== undefined) {
    return `${snapshot.key.kind} ${reserved.prefix === true ? `names starting with "${reserved.name}"` : `"${reserved.name}"`} belong to ${reserved.owner}; nsync never writes one, in any namespace.`;
  }
  if (isIdentityKind(snapshot.key.kind) && IDENTITY_RESERVED_NAMESPACES.has(namespace)) {
    return `Namespace ${namespace} holds the cluster's own bootstrap policy and controller identities; nsync never writes a ${snapshot.key.kind} there.`;
  }
  if (snapshot.guardrails.isProtected(namespace)) {
    return `Namespace ${namespace} is protected (nsync's own namespace); nsync never writes mirrors there.`;
  }
  return undefined;
}

/**
 * Why the source may not be served at all because it is a Role, RoleBinding or ServiceAccount
 * outside the namespaces the operator trusts with them (`--rbac-source-namespaces`, ADR 17), or
 * undefined when it may. Push and pull alike: nsync can grant what it holds itself (every Secret,
 * cluster-wide), so only the operator decides whose bindings it carries.
 */
function untrustedIdentitySource(snapshot: Snapshot): string | undefined {
  const { kind, namespace } = snapshot.key;
  if (!isIdentityKind(kind) || snapshot.guardrails.isRbacSource(namespace)) return undefined;
  return `Namespace ${namespace} is not among the operator's RBAC source namespaces (--rbac-source-namespaces); its ${kind}s are never pushed or pulled, since they decide who may do what.`;
}

/**
 * Why a RoleBinding mirror must wait, or undefined when it need not: it binds a Role (not a
 * ClusterRole) that does not exist in the target namespace yet. nsync could not create it anyway
 * (without `bind`, the API server must resolve the Role's rules to allow the binding), and
 * replicator, too, skips such a binding until the Role is there.
 */
function waitingForRole(snapshot: Snapshot, source: SourceState, namespace: string): string | undefined {
  if (snapshot.key.kind !== 'RoleBinding') return undefined;
  const roleRef = parseRoleRef(ownValue(source.content.data, 'roleRef'));
  if (roleRef?.kind !== 'Role') return undefined;
  if (snapshot.roleExists?.(namespace, roleRef.name) === true) return undefined;
  return `It binds Role "${roleRef.name}", which does not exist in namespace ${namespace} yet; the binding waits for it.`;
}

/**
 * Whether an object carries the target side's refusal (`nsync.dev/refuse`, any value but
 * "false"): whoever may edit the object may refuse it, whatever dialect pushed it.
 */
function isRefused(object: ObjectMeta): boolean {
  const value = ownValue(object.annotations, owned.refuse);
  return value !== undefined && value.trim().toLowerCase() !== 'false';
}

/** The decision for a refused object at a push target: never written, never deleted. */
function refusedDecision(target: ObjectKey, sourceName: string): Decision {
  return pushDecision(
    target.namespace,
    target.name,
    'refused',
    `${describe(target)} carries ${owned.refuse}: namespace ${target.namespace} refuses the mirror of ${sourceName}; nsync never writes or deletes it while the refusal stands.`,
  );
}

/**
 * Whether a mirror is contested: restores reached the limit and someone else's change from within
 * that window still stands (plan/contest.ts). Such a mirror is left to the other manager, even
 * when it would otherwise be deleted.
 */
function isContested(snapshot: Snapshot, mirror: ObjectMeta): boolean {
  return (
    mirror.foreignWrite !== undefined &&
    judgeRestore(mirror, snapshot.now, snapshot.guardrails.contest).contested
  );
}

/** The message of a contested mirror's decision. */
function contestedMessage(
  target: ObjectKey,
  managers: readonly string[],
  count: number,
  since: string,
): string {
  const who =
    managers.length === 0 ? 'another field manager' : managers.map((name) => `"${name}"`).join(', ');
  return `${describe(target)} is contested: ${who} changed it again after nsync restored it ${String(count)} times since ${since}, so nsync stops writing it and leaves it as it is. It resumes when the object is deleted, its nsync markers are removed, or ${owned.restores} is removed from it.`;
}

/**
 * The guards before any object is looked at, in the documented order. Returns the skip decision,
 * or undefined when the rule does want a mirror in this namespace.
 */
function pushGuard(context: PushContext, namespace: NamespaceInfo, rule: PushRule): Decision | undefined {
  const { snapshot } = context;
  const { guardrails } = snapshot;
  const sourceNamespace = snapshot.key.namespace;
  const at = (code: Decision['code'], message: string): Decision =>
    pushDecision(namespace.name, rule.targetName, code, message);
  if (namespace.name === sourceNamespace && snapshot.remote !== true) {
    return at('source-namespace', "The source's own namespace never gets a pushed mirror.");
  }
  if (guardrails.isExcluded(namespace.name)) {
    return at(
      'excluded',
      `Namespace ${namespace.name} is excluded by the operator; nsync never writes there.`,
    );
  }
  if (guardrails.isExcluded(sourceNamespace)) {
    return at('source-not-allowed', `The source's namespace ${sourceNamespace} is excluded by the operator.`);
  }
  // A ClusterMirror is made with cluster-level rights: --source-namespaces bounds namespace users.
  if (rule.origin?.kind !== 'ClusterMirror' && !guardrails.mayPushFrom(sourceNamespace)) {
    return at('source-not-allowed', `Namespace ${sourceNamespace} is not allowed to host push sources.`);
  }
  const untrusted = untrustedIdentitySource(snapshot);
  if (untrusted !== undefined) return at('source-not-allowed', untrusted);
  if (ownValue(namespace.labels, guardrails.optOutLabel) === 'true') {
    return at(
      'opted-out',
      `Namespace ${namespace.name} opts out of pushed mirrors (label ${guardrails.optOutLabel}).`,
    );
  }
  if (!filterMatches(rule.targets, namespace)) {
    return at(
      'not-selected',
      `The ${rule.dialect} push rule does not select this namespace: ${evaluateFilter(rule.targets, namespace).why}.`,
    );
  }
  const reserved = reservedTarget(snapshot, namespace.name, rule.targetName);
  if (reserved !== undefined) return at('reserved', reserved);
  if (guardrails.targetConsent) {
    const consent = acceptsFrom(namespace, sourceNamespace);
    if (!consent.accepted) {
      return at(
        'target-consent-missing',
        `Namespace ${namespace.name} does not accept mirrors from ${sourceNamespace}: ${consent.why}.`,
      );
    }
  }
  if (namespace.terminating) {
    return at('terminating', `Namespace ${namespace.name} is being deleted; no mirror is written there.`);
  }
  return undefined;
}

/**
 * Whether an object no source is named on may be adopted as this source's mirror: a push replica
 * kubernetes-replicator wrote (unnamedMirrorClaim), which never records its source, exactly where
 * replicator itself would have overwritten it for this source. All of these must hold:
 *
 * - its markers are those of a replicator push replica and nothing else (unnamedMirrorClaim);
 * - it has the source's kind and the source's own name (replicator replicas keep the name), in
 *   another namespace than the source's, and it is not the source;
 * - the source has a replicator push rule that selects this namespace — even when a rule of a
 *   higher-precedence dialect wins this target name, since the replica is still this source's;
 * - the operator has the replicator dialect enabled.
 *
 * Being adoptable only ever allows a replace; an unnamed claim is never a reason to delete.
 */
function adoptableReplica(
  snapshot: Snapshot,
  source: SourceState,
  namespace: NamespaceInfo,
  existing: ObjectMeta,
): boolean {
  const { key, guardrails } = snapshot;
  if (!guardrails.adoptReplicatorReplicas || !guardrails.dialects.has('replicator')) return false;
  if (existing.kind !== key.kind || existing.name !== key.name) return false;
  if (existing.namespace === key.namespace || existing.namespace !== namespace.name) return false;
  if (isTheSource(snapshot, existing)) return false;
  const unnamed = unnamedMirrorClaim(existing.kind, existing.labels, existing.annotations, {
    clusterName: guardrails.clusterName,
    remote: snapshot.remote === true,
  });
  if (unnamed === undefined) return false;
  return source.spec.push.some(
    (candidate) => candidate.dialect === 'replicator' && filterMatches(candidate.targets, namespace),
  );
}

/** The decision for a location the rule wants, given what already sits there. */
function pushAtTarget(context: PushContext, namespace: NamespaceInfo, rule: PushRule): PushOutcome {
  const { snapshot, source } = context;
  const target: ObjectKey = { kind: snapshot.key.kind, namespace: namespace.name, name: rule.targetName };
  const sourceName = formatRef(snapshot.key.namespace, snapshot.key.name);
  const at = (code: Decision['code'], message: string): Decision =>
    pushDecision(namespace.name, rule.targetName, code, message);
  const existing = snapshot.lookup(namespace.name, rule.targetName);
  const render = (current: ObjectMeta | undefined) =>
    renderMirror({
      source,
      rule,
      namespace: namespace.name,
      existing: current,
      now: snapshot.now,
      clusterName: snapshot.guardrails.clusterName,
      copyPolicy: snapshot.guardrails.copyPolicy,
      remote: snapshot.remote === true,
    });
  const waiting = waitingForRole(snapshot, source, namespace.name);
  if (existing === undefined && waiting !== undefined) {
    return { decision: at('waiting-for-role', waiting), desired: true };
  }
  if (existing === undefined) {
    return {
      decision: at(
        'create',
        `Creates ${describe(target)} as a mirror of ${sourceName} (${rule.dialect} rule).`,
      ),
      op: { verb: 'create', target, body: render(undefined).body },
      desired: true,
    };
  }
  if (existing.deleting) {
    return {
      decision: at(
        'terminating',
        `${describe(target)} is being deleted; the mirror is written once it is gone.`,
      ),
      desired: true,
    };
  }
  if (isRefused(existing)) return { decision: refusedDecision(target, sourceName), desired: true };
  if (!claimsThisSource(snapshot, existing)) {
    if (!adoptableReplica(snapshot, source, namespace, existing)) {
      return { ...conflict(snapshot, existing, target), desired: true };
    }
    // Always written: the replica carries none of nsync's markers yet, and after this write it
    // is claimed by them like any mirror nsync made.
    return {
      decision: at(
        'update',
        `Adopts ${describe(target)} from kubernetes-replicator as the mirror of ${sourceName} (${rule.dialect} rule): replicator's replicas name no source, but this one has the source's name and its replicator rule selects namespace ${namespace.name}; from now on it carries nsync's markers.`,
      ),
      op: { verb: 'replace', target, body: render(existing).body, uid: existing.uid },
      desired: true,
      adopted: true,
    };
  }
  // A mirror whose Role is gone binds nothing; rewriting it (a roleRef change means delete and
  // create) would only fail, since the API server cannot resolve a missing Role's rules.
  if (waiting !== undefined) return { decision: at('waiting-for-role', waiting), desired: true };
  const rendered = render(existing);
  const stale = mirrorStaleness(rendered, existing);
  if (stale === undefined) {
    return { decision: at('in-sync', `The mirror of ${sourceName} is up to date.`), desired: true };
  }
  const verdict =
    existing.foreignWrite === undefined
      ? undefined
      : judgeRestore(existing, snapshot.now, snapshot.guardrails.contest);
  // A contested mirror is left to the other manager entirely: source changes included, or each
  // of them would start the fight again.
  if (verdict?.contested === true) {
    return {
      decision: at(
        'contested',
        contestedMessage(target, verdict.managers, verdict.restores.count, verdict.restores.since),
      ),
      desired: true,
    };
  }
  if (verdict === undefined || !isRestore(existing, rendered.hash)) {
    return {
      decision: at('update', `Updates the mirror of ${sourceName}: ${stale}.`),
      op: { verb: 'replace', target, body: rendered.body, uid: existing.uid },
      desired: true,
    };
  }
  const body = {
    ...rendered.body,
    metadata: {
      ...rendered.body.metadata,
      annotations: { ...rendered.body.metadata.annotations, [owned.restores]: verdict.marker },
    },
  };
  const who = existing.foreignWrite?.managers.map((name) => `"${name}"`).join(', ') ?? 'someone';
  return {
    decision: at(
      'update',
      `Restores the mirror of ${sourceName} after a change by ${who}: ${stale} (restore ${verdict.marker}).`,
    ),
    op: { verb: 'replace', target, body, uid: existing.uid },
    desired: true,
  };
}

/**
 * The decision for an object in the way that this source does not own: it is never touched. When
 * it is another source's mirror, that source keeps it (first come, first served: a source never
 * takes over a mirror another source's markers name, so two sources never flip it back and forth),
 * and the message names both sources, for the Warning Event.
 */
function conflict(snapshot: Snapshot, existing: ObjectMeta, target: ObjectKey): Entry {
  const sourceName = formatRef(snapshot.key.namespace, snapshot.key.name);
  const claim = claimOf(snapshot, existing);
  if (claim === undefined) {
    const unnamed = unnamedMirrorClaim(existing.kind, existing.labels, existing.annotations, {
      clusterName: snapshot.guardrails.clusterName,
      remote: snapshot.remote === true,
    });
    const why =
      unnamed === undefined
        ? 'is not managed by nsync'
        : `looks like a kubernetes-replicator replica, but not one of ${sourceName} (that takes a source of the same kind and name whose enabled replicator push rule selects namespace ${target.namespace})`;
    return {
      decision: pushDecision(
        target.namespace,
        target.name,
        'conflict-unowned',
        `${describe(target)} already exists and ${why}; it is left untouched.`,
      ),
    };
  }
  const other = formatRef(claim.sourceNamespace, claim.sourceName);
  return {
    decision: pushDecision(
      target.namespace,
      target.name,
      'conflict-other-source',
      `${describe(target)} is already the mirror of ${other}; ${sourceName} wants it too, but the first source keeps it, so it is left untouched.`,
    ),
  };
}

/** One push decision for one namespace and one rule, attributed to the rule's origin if it has one. */
function decidePush(context: PushContext, namespace: NamespaceInfo, rule: PushRule): PushOutcome {
  const skipped = pushGuard(context, namespace, rule);
  const outcome: PushOutcome =
    skipped === undefined ? pushAtTarget(context, namespace, rule) : { decision: skipped, desired: false };
  if (rule.origin === undefined) return outcome;
  return { ...outcome, decision: { ...outcome.decision, origin: formatOrigin(rule.origin) } };
}

/** Who speaks for a rule in messages: its resource, or the source's annotations of its dialect. */
function speakerOf(rule: PushRule): string {
  return rule.origin === undefined ? `the source's ${rule.dialect} annotations` : formatOrigin(rule.origin);
}

/** A rule with an origin that selects a location another rule of the same source speaks for. */
type Outranked = Plan['outranked'][number];

/**
 * Push decisions for every namespace and every target name, keyed by location, and the rules
 * with an origin that a higher-ranked rule of the same name outranked somewhere.
 */
function planPushTargets(
  snapshot: Snapshot,
  namespaces: Map<string, NamespaceInfo>,
): { outcomes: Map<string, PushOutcome>; outranked: Outranked[] } {
  const outcomes = new Map<string, PushOutcome>();
  const outranked: Outranked[] = [];
  const source = snapshot.source;
  if (source === undefined) return { outcomes, outranked };
  const context: PushContext = { snapshot, source };
  const groups = pushRulesByName(snapshot);
  for (const namespace of namespaces.values()) {
    for (const [targetName, rules] of groups) {
      const rule = ruleForNamespace(rules, namespace);
      if (rule === undefined) continue;
      outcomes.set(locationKey(namespace.name, targetName), decidePush(context, namespace, rule));
      if (rules.length < 2 || namespace.name === snapshot.key.namespace) continue;
      for (const other of rules) {
        if (other === rule || other.origin === undefined) continue;
        if (!filterMatches(other.targets, namespace)) continue;
        outranked.push({
          origin: formatOrigin(other.origin),
          namespace: namespace.name,
          name: targetName,
          by: speakerOf(rule),
        });
      }
    }
  }
  return { outcomes, outranked };
}

/** The mirrors that claim this source, de-duplicated and sorted; never the source itself. */
function claimedMirrors(snapshot: Snapshot): ObjectMeta[] {
  const seen = new Set<string>();
  return [...snapshot.mirrors]
    .filter(
      (mirror) =>
        mirror.kind === snapshot.key.kind &&
        !isTheSource(snapshot, mirror) &&
        claimsThisSource(snapshot, mirror),
    )
    .sort(compareObjects)
    .filter((mirror) => {
      const key = locationKey(mirror.namespace, mirror.name);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/**
 * Why an orphan must be left alone, as a decision for explain, or undefined when it is deleted.
 * Excluded namespaces are never touched; a namespace that is going away (or already unknown)
 * takes its objects with it; an object already being deleted needs nothing more.
 */
function orphanKept(
  snapshot: Snapshot,
  namespaces: Map<string, NamespaceInfo>,
  mirror: ObjectMeta,
): Decision | undefined {
  const namespace = namespaces.get(mirror.namespace);
  const at = (code: Decision['code'], message: string): Decision =>
    pushDecision(mirror.namespace, mirror.name, code, message);
  const problems = snapshot.source?.spec.problems ?? [];
  if (problems.length > 0) {
    // A typo in an annotation drops that rule; deleting every mirror for it would turn bad input
    // into an outage. The source is disabled, not emptied, until its annotations are fixed.
    return at(
      'invalid-rule',
      `The source's annotations are invalid (${problems.map((problem) => problem.annotation).join(', ')}); its existing mirror is kept until they are fixed.`,
    );
  }
  const invalid = snapshot.invalidResources ?? [];
  if (invalid.length > 0) {
    return at(
      'invalid-rule',
      `${invalid.join(', ')} cannot be served as written; the source's existing mirror is kept until ${invalid.length === 1 ? 'it is' : 'they are'} fixed.`,
    );
  }
  if (snapshot.guardrails.isExcluded(mirror.namespace)) {
    return at(
      'excluded',
      `Namespace ${mirror.namespace} is excluded by the operator; the stale mirror is left untouched.`,
    );
  }
  if (namespace === undefined || namespace.terminating) {
    return at('terminating', `Namespace ${mirror.namespace} is going away; the stale mirror goes with it.`);
  }
  if (mirror.deleting) {
    return at('terminating', `The stale mirror ${describe(mirror)} is already being deleted.`);
  }
  if (isRefused(mirror)) return refusedDecision(mirror, formatRef(snapshot.key.namespace, snapshot.key.name));
  if (isContested(snapshot, mirror)) {
    return at(
      'contested',
      `${describe(mirror)} is no longer wanted here, but it is contested (another field manager keeps changing it); it is left to that manager rather than deleted.`,
    );
  }
  return undefined;
}

/** The decision that deletes an orphan, keeping the reason the location stopped qualifying. */
function orphanDeleted(snapshot: Snapshot, mirror: ObjectMeta, previous: Decision | undefined): Decision {
  if (snapshot.source === undefined) {
    const sourceName = formatRef(snapshot.key.namespace, snapshot.key.name);
    return pushDecision(
      mirror.namespace,
      mirror.name,
      'source-missing',
      `The source ${sourceName} no longer exists; its mirror is deleted.`,
    );
  }
  const why = previous?.message ?? 'No push rule of the source asks for a mirror here any more.';
  return pushDecision(mirror.namespace, mirror.name, 'delete-orphan', `${why} The stale mirror is deleted.`);
}

/**
 * Orphans: mirrors claiming this source where no push rule wants one. They are deleted, with
 * uid and resourceVersion preconditions so that a re-created or changed object is not hit.
 */
function planOrphans(
  snapshot: Snapshot,
  namespaces: Map<string, NamespaceInfo>,
  outcomes: Map<string, PushOutcome>,
): Map<string, Entry> {
  const entries = new Map<string, Entry>(outcomes);
  for (const mirror of claimedMirrors(snapshot)) {
    const key = locationKey(mirror.namespace, mirror.name);
    const outcome = outcomes.get(key);
    if (outcome?.desired === true) continue;
    const kept = orphanKept(snapshot, namespaces, mirror);
    if (kept !== undefined) {
      if (outcome === undefined) entries.set(key, { decision: kept });
      continue;
    }
    const target: ObjectKey = { kind: mirror.kind, namespace: mirror.namespace, name: mirror.name };
    entries.set(key, {
      decision: orphanDeleted(snapshot, mirror, outcome?.decision),
      op: { verb: 'delete', target, uid: mirror.uid, resourceVersion: mirror.resourceVersion },
    });
  }
  return entries;
}

/** Builds a pull decision for a target. */
function pullDecision(target: ObjectMeta, code: Decision['code'], message: string): Decision {
  return { namespace: target.namespace, name: target.name, mode: 'pull', code, message };
}

/**
 * The checks of a pull target that do not need the source's consent. Returns the skip decision,
 * `null` when the target is silently left to the push side, or undefined when it may proceed.
 * `adopted` holds the locations the push side adopts in this plan.
 */
function pullGuard(
  snapshot: Snapshot,
  pull: PullTarget,
  adopted: ReadonlySet<string>,
): Decision | null | undefined {
  const { meta, request } = pull;
  const sourceName = formatRef(snapshot.key.namespace, snapshot.key.name);
  const at = (code: Decision['code'], message: string): Decision => pullDecision(meta, code, message);
  // A push mirror of this source also carries a back-reference (reflector's `reflects`), and a
  // replica being adopted becomes one; the push side owns it, and one object must never get two
  // writes from one plan.
  if (claimsThisSource(snapshot, meta) || adopted.has(locationKey(meta.namespace, meta.name))) return null;
  if (!snapshot.guardrails.dialects.has(request.dialect)) {
    return at('dialect-disabled', `The ${request.dialect} dialect is disabled by the operator.`);
  }
  const names = formatRef(request.source.namespace, request.source.name);
  if (meta.kind !== snapshot.key.kind || names !== sourceName) {
    return at(
      'invalid-rule',
      `It asks to be filled from ${names}, not from ${snapshot.key.kind} ${sourceName}.`,
    );
  }
  if (snapshot.source === undefined) {
    return at('source-missing', `The source ${sourceName} does not exist; the target keeps its last data.`);
  }
  if (isTheSource(snapshot, meta)) return at('invalid-rule', 'An object cannot be filled from itself.');
  const untrusted = untrustedIdentitySource(snapshot);
  if (untrusted !== undefined) return at('source-not-allowed', untrusted);
  const reserved = reservedTarget(snapshot, meta.namespace, meta.name);
  if (reserved !== undefined) return at('reserved', reserved);
  if (isRefused(meta)) {
    return at(
      'refused',
      `It carries ${owned.refuse}; it is not filled from ${sourceName} while the refusal stands.`,
    );
  }
  if (isNeverMirrored(snapshot.source)) {
    return at('invalid-rule', `The source ${sourceName} is of a Secret type that is never mirrored.`);
  }
  for (const namespace of [meta.namespace, snapshot.key.namespace]) {
    if (snapshot.guardrails.isExcluded(namespace)) {
      return at('excluded', `Namespace ${namespace} is excluded by the operator.`);
    }
  }
  // Only a named claim is another source's: a replicator replica names none (unnamedMirrorClaim),
  // so it is as unowned as any other object here.
  const claim = claimOf(snapshot, meta);
  if (claim !== undefined) {
    const other = formatRef(claim.sourceNamespace, claim.sourceName);
    return at(
      'conflict-other-source',
      `It is a pushed mirror of ${other}, so it is not filled from ${sourceName}; it is left untouched.`,
    );
  }
  return undefined;
}

/** The pull decision after the guards: consent, then in sync or patch. */
function pullWithConsent(
  snapshot: Snapshot,
  source: SourceState,
  pull: PullTarget,
  namespace: NamespaceInfo,
): Entry {
  const { meta, request } = pull;
  const sourceName = formatRef(snapshot.key.namespace, snapshot.key.name);
  const at = (code: Decision['code'], message: string): Decision => pullDecision(meta, code, message);
  if (namespace.terminating || meta.deleting) {
    return {
      decision: at('terminating', `${describe(meta)} or its namespace is being deleted; it is not filled.`),
    };
  }
  const consents = source.spec.consent.filter((consent) => consent.dialect === request.dialect);
  const verdicts = consents.map((consent) => evaluateFilter(consent.namespaces, namespace));
  const granted = verdicts.find((verdict) => verdict.match);
  if (granted === undefined) {
    const why = verdicts.map((verdict) => verdict.why).join('; ') || `it gives no ${request.dialect} consent`;
    return {
      decision: at(
        'consent-missing',
        `The source ${sourceName} does not allow pulls into ${meta.namespace}: ${why}.`,
      ),
    };
  }
  const rendered = renderPullPatch({ source, target: pull, now: snapshot.now });
  const kept = rendered.kept.length === 0 ? {} : { keptKeys: rendered.kept };
  const keeping =
    rendered.kept.length === 0
      ? ''
      : ` It keeps its own value for ${listKeys(rendered.kept)} instead of the source's.`;
  const stale = pullStaleness(rendered, pull);
  if (stale === undefined) {
    return {
      decision: { ...at('in-sync', `It holds the current content of ${sourceName}.${keeping}`), ...kept },
    };
  }
  const target: ObjectKey = { kind: meta.kind, namespace: meta.namespace, name: meta.name };
  if (rendered.unverified.length > 0) {
    return {
      decision: at(
        'update',
        `Fills it from ${sourceName} (${request.dialect}): ${stale}; it is read first, since it may hold ${listKeys(rendered.unverified)} of its own.`,
      ),
      read: target,
    };
  }
  return {
    decision: {
      ...at('update', `Fills it from ${sourceName} (${request.dialect}): ${stale}.${keeping}`),
      ...kept,
    },
    op: { verb: 'patch', target, patch: rendered.patch },
  };
}

/** Key names for a message: the first five, quoted, then how many more. */
function listKeys(keys: readonly string[]): string {
  const shown = keys
    .slice(0, 5)
    .map((key) => `"${key}"`)
    .join(', ');
  return keys.length > 5 ? `${shown} and ${String(keys.length - 5)} more` : shown;
}

/** One pull decision, or undefined when the target is not this plan's to judge. */
function decidePull(
  snapshot: Snapshot,
  namespaces: Map<string, NamespaceInfo>,
  pull: PullTarget,
  adopted: ReadonlySet<string>,
): Entry | undefined {
  const guarded = pullGuard(snapshot, pull, adopted);
  if (guarded === null) return undefined;
  if (guarded !== undefined) return { decision: guarded };
  const namespace = namespaces.get(pull.meta.namespace);
  // An unknown namespace is gone or not yet seen: nothing can be judged or written there.
  if (snapshot.source === undefined || namespace === undefined) return undefined;
  return pullWithConsent(snapshot, snapshot.source, pull, namespace);
}

/** Pull decisions for every distinct pull target; `adopted` as in pullGuard. */
function planPull(
  snapshot: Snapshot,
  namespaces: Map<string, NamespaceInfo>,
  adopted: ReadonlySet<string>,
): Entry[] {
  const seen = new Set<string>();
  const targets = [...snapshot.pullTargets].sort((a, b) => compareObjects(a.meta, b.meta));
  return targets.flatMap((pull) => {
    const key = locationKey(pull.meta.namespace, pull.meta.name);
    if (seen.has(key)) return [];
    seen.add(key);
    const entry = decidePull(snapshot, namespaces, pull, adopted);
    return entry === undefined ? [] : [entry];
  });
}

/**
 * Plans one source: every push target in every namespace, every orphan, every pull target. Pure
 * and deterministic; decisions and ops are sorted (push before pull, then namespace, then name),
 * and at most one op ever names a given object. Ops only ever touch objects absent (create),
 * claimed by this source (replace, delete), adoptable replicator replicas of it (replace only,
 * see adoptableReplica) or asking to be filled from it (patch) — never the source, never an
 * object nsync does not own. An object another source's markers name stays that source's.
 */
export function plan(snapshot: Snapshot): Plan {
  const namespaces = indexNamespaces(snapshot.namespaces);
  const planned = planPushTargets(snapshot, namespaces);
  const budget = applyBudget(snapshot, planned.outcomes);
  const outcomes = budget.outcomes;
  const adopted = new Set(
    [...outcomes].filter(([, outcome]) => outcome.adopted === true).map(([key]) => key),
  );
  const push = planOrphans(snapshot, namespaces, outcomes);
  const entries = [...push.values(), ...planPull(snapshot, namespaces, adopted)].sort(compareEntries);
  const source = snapshot.source;
  return {
    decisions: entries.map((entry) => entry.decision),
    ops: entries.flatMap((entry) => (entry.op === undefined ? [] : [entry.op])),
    readsFirst: entries.flatMap((entry) => (entry.read === undefined ? [] : [entry.read])),
    sourceProblems: source === undefined ? [] : [...source.spec.problems, ...source.spec.unsupported],
    droppedKeys: droppedMetadata(snapshot),
    outranked: planned.outranked,
    ...(budget.over === undefined ? {} : { overBudget: budget.over }),
    targetProblems: [],
  };
}

/** Decisions that stand for a mirror of this source that exists (placed in the cluster). */
const PLACED: ReadonlySet<Decision['code']> = new Set(['in-sync', 'update', 'contested']);

/**
 * Holds a source to its fan-out budget (plan/budget.ts): counted over the mirrors it has and the
 * ones this plan would create, each the size of the source's content. Over it, no mirror is
 * created; when even the existing mirrors exceed it, they keep their content (no update) until
 * the source fits again. Deleting orphans always proceeds: it frees space.
 */
function applyBudget(
  snapshot: Snapshot,
  outcomes: Map<string, PushOutcome>,
): { outcomes: Map<string, PushOutcome>; over?: string } {
  const source = snapshot.source;
  if (source === undefined) return { outcomes };
  const all = [...outcomes.values()];
  const existing = all.filter((outcome) => outcome.desired && PLACED.has(outcome.decision.code)).length;
  const created = all.filter((outcome) => outcome.op?.verb === 'create').length;
  const bytes = contentBytes(source.meta.kind, source.content);
  const { budget } = snapshot.guardrails;
  const over = overBudget(budget, existing + created, bytes);
  if (over === undefined) return { outcomes };
  const holdUpdates = overBudget(budget, existing, bytes) !== undefined;
  const held = new Map<string, PushOutcome>();
  for (const [key, outcome] of outcomes) {
    const verb = outcome.op?.verb;
    if (verb === 'create' || (holdUpdates && verb === 'replace' && outcome.adopted !== true)) {
      const what = verb === 'create' ? 'no new mirror is created' : 'existing mirrors keep their content';
      held.set(key, {
        decision: {
          ...outcome.decision,
          code: 'over-budget',
          message: `The source is over its fan-out budget (${over}); ${what}.`,
        },
        desired: true,
      });
    } else {
      held.set(key, outcome);
    }
  }
  return { outcomes: held, over };
}

/**
 * The source's labels and annotations that its copying push rules leave behind (copy policy and
 * tracking metadata), as `label <key>` / `annotation <key>`.
 */
function droppedMetadata(snapshot: Snapshot): string[] {
  const source = snapshot.source;
  if (source === undefined) return [];
  const rules = [...pushRulesByName(snapshot).values()].flat();
  const policy = snapshot.guardrails.copyPolicy;
  return [
    ...(rules.some((rule) => rule.copy.labels)
      ? droppedKeys(source.meta.labels, policy).map((key) => `label ${key}`)
      : []),
    ...(rules.some((rule) => rule.copy.annotations)
      ? droppedKeys(source.meta.annotations, policy).map((key) => `annotation ${key}`)
      : []),
  ];
}
