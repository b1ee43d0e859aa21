/**
 * The planner's input (a snapshot of one source and everything around it) and output (decisions
 * with reasons, and the writes that make them true). Pure data; no Kubernetes client imports.
 */
import type { CopyPolicy } from '../rules/copy-policy.ts';
import type { FanOutBudget } from './budget.ts';
import type { ContestLimits } from './contest.ts';
import type { CanonicalValue } from './hash.ts';
import type {
  Dialect,
  Kind,
  NamespaceInfo,
  ObjectKey,
  PullRequest,
  SourceSpec,
  TargetSpec,
} from '../rules/model.ts';

/** An owner reference, copied through when a rule asks for it. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

/**
 * An existing Secret or ConfigMap as the metadata cache knows it. Data is never here: the cache
 * holds metadata only, so memory does not grow with secret bytes.
 */
export interface ObjectMeta {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly OwnerReference[];
  /**
   * True when someone other than nsync last wrote the content fields (data, binaryData, type),
   * as told by managedFields: the content may differ from what nsync's hash annotation says.
   */
  readonly contentForeign: boolean;
  /** True once a deletionTimestamp is set. */
  readonly deleting: boolean;
  /**
   * The content keys nsync's own managedFields entry names. Kept only for an object whose key-list
   * marker defers to managedFields because the list outgrew its annotation budget (see
   * render.ts recordedKeyList); undefined otherwise, so ordinary records stay small.
   */
  readonly writtenKeys?: readonly string[];
  /**
   * Who else wrote this object since nsync's last write, for the objects nsync manages; undefined
   * when nobody did. Tells a restore (someone else changed the mirror) from an update the source
   * caused, and dates the change (plan/contest.ts).
   */
  readonly foreignWrite?: ForeignWrite;
}

/** Writes by other field managers since nsync's last write (from managedFields). */
export interface ForeignWrite {
  /** Their field manager names, sorted. */
  readonly managers: readonly string[];
  /** RFC 3339 time of the latest of their writes; '' when managedFields carry no time. */
  readonly at: string;
}

/**
 * The content of a source, read from the API server (the only objects whose data nsync reads).
 * For Roles, RoleBindings and ServiceAccounts, `data` holds the canonical JSON of each content
 * field by field name (rules/kinds.ts CONTENT_FIELDS_OF), so hashing, budgets and comparison work
 * alike for every kind.
 */
export interface SourceContent {
  /** Secret type; undefined for ConfigMaps. */
  readonly type: string | undefined;
  /** Secret: base64 values as the API returns them. ConfigMap: plain strings. */
  readonly data: Readonly<Record<string, string>>;
  /** ConfigMap binaryData (base64); empty for Secrets. */
  readonly binaryData: Readonly<Record<string, string>>;
}

/** The source as the planner sees it. */
export interface SourceState {
  readonly meta: ObjectMeta;
  readonly content: SourceContent;
  readonly spec: SourceSpec;
}

/** A pull target that names this source, with its parsed request. */
export interface PullTarget {
  readonly meta: ObjectMeta;
  readonly request: PullRequest;
  /**
   * The keys the target holds with a non-empty value, read from the API server just before this
   * plan because the plan asked for it (Plan.readsFirst); undefined when not read. The metadata
   * cache cannot tell which keys a target has of its own, and those must never be overwritten.
   */
  readonly held?: ReadonlySet<string>;
}

/** Operator guardrails applied to every rule of every dialect. */
export interface Guardrails {
  /** Namespaces nothing is ever written to or read from as a source. */
  readonly isExcluded: (namespace: string) => boolean;
  /** Whether a namespace may host push sources. */
  readonly mayPushFrom: (namespace: string) => boolean;
  /**
   * `--rbac-source-namespaces`: whether a namespace's Roles, RoleBindings and ServiceAccounts may
   * be sources at all, for push and for pull (docs/adr/0017). Default: none.
   */
  readonly isRbacSource: (namespace: string) => boolean;
  /** Label that, set to "true" on a namespace, refuses every pushed mirror. */
  readonly optOutLabel: string;
  readonly dialects: ReadonlySet<Dialect>;
  /**
   * This cluster's name, as kubed's `--cluster-name`; '' when the cluster is unnamed. kubed copies
   * labelled `kubed.appscode.com/origin.cluster` with another name came from a source in another
   * cluster and are never claimed here (see mirrorClaim); kubed-dialect mirrors nsync writes carry
   * that label with this name when it is not ''.
   */
  readonly clusterName: string;
  /**
   * Whether objects that look like kubernetes-replicator replicas may be adopted. Replicator's
   * replicas do not name their source, so any same-named source could claim one: only an operator
   * who knows replicator made them turns this on, for the migration window (docs/migration/replicator.md).
   */
  readonly adoptReplicatorReplicas: boolean;
  /**
   * `--target-consent`: a push lands in a namespace only when its `nsync.dev/accept-from`
   * annotation accepts the source's namespace (rules/target-consent.ts). Pull is unaffected.
   */
  readonly targetConsent: boolean;
  /** Namespaces that never get a mirror although not excluded: nsync's own, by default. */
  readonly isProtected: (namespace: string) => boolean;
  /** Which source labels and annotations may be copied into another namespace. */
  readonly copyPolicy: CopyPolicy;
  /** When restoring a mirror someone else keeps changing turns into a contest (plan/contest.ts). */
  readonly contest: ContestLimits;
  /** What one source may place in the cluster (plan/budget.ts). */
  readonly budget: FanOutBudget;
}

/** Everything plan() needs for one source key. */
export interface Snapshot {
  readonly key: ObjectKey;
  /** Undefined when the source does not exist (deleted, or never existed). */
  readonly source: SourceState | undefined;
  /**
   * Whether a Role of that name exists in that namespace: a RoleBinding mirror that binds a Role
   * waits until it does (docs/adr/0017). Only RoleBinding sources need it; absent = no Role known.
   */
  readonly roleExists?: (namespace: string, name: string) => boolean;
  readonly namespaces: readonly NamespaceInfo[];
  /** Existing object of the source's kind at namespace/name, if any. */
  readonly lookup: (namespace: string, name: string) => ObjectMeta | undefined;
  /**
   * Existing objects whose ownership markers claim this source (nsync's own, or adoptable ones),
   * as mirrorClaim reads them with `guardrails.clusterName`. replicator's replicas name no source
   * (unnamedMirrorClaim): they are never orphans, and plan() finds the ones it may adopt through
   * `lookup`, so they need not be listed here.
   */
  readonly mirrors: readonly ObjectMeta[];
  /** Existing objects asking to be filled from this source. */
  readonly pullTargets: readonly PullTarget[];
  readonly guardrails: Guardrails;
  /** ISO-8601 time for the dialects' "reflected-at" style markers. */
  readonly now: string;
  /**
   * ClusterMirrors and Mirrors naming this source that cannot be served as they are (invalid
   * spec): like invalid annotations, they keep the source's existing mirrors until fixed.
   */
  readonly invalidResources?: readonly string[];
  /**
   * The namespaces, lookup and mirrors are another cluster's (docs/adr/0018): the source's own
   * namespace there is a valid target, mirrors are claimed only when their cluster marker names
   * `guardrails.clusterName`, and what is written says so (`nsync.dev/source-cluster`).
   * @default false
   */
  readonly remote?: boolean;
}

/** Why a target got the decision it got: a stable code for metrics, a sentence for people. */
export type ReasonCode =
  | 'in-sync'
  | 'create'
  | 'update'
  | 'delete-orphan'
  | 'not-selected'
  | 'source-namespace'
  | 'terminating'
  | 'excluded'
  | 'opted-out'
  | 'source-not-allowed'
  | 'conflict-unowned'
  | 'conflict-other-source'
  | 'consent-missing'
  | 'source-missing'
  | 'invalid-rule'
  | 'dialect-disabled'
  | 'refused'
  | 'contested'
  | 'reserved'
  | 'target-consent-missing'
  | 'over-budget'
  | 'waiting-for-role';

/** One decision about one target (namespace/name), with its reason. */
export interface Decision {
  readonly namespace: string;
  readonly name: string;
  readonly mode: 'push' | 'pull';
  readonly code: ReasonCode;
  /** Human sentence; never contains data values. */
  readonly message: string;
  /** Pull only: source keys not written because the target has them of its own. */
  readonly keptKeys?: readonly string[];
  /**
   * Push only: the resource whose rule made this decision (`ClusterMirror/<name>`,
   * `Mirror/<namespace>/<name>`); absent for the source's own annotations.
   */
  readonly origin?: string;
}

/** The body of a mirror as written (PUT/POST). */
export interface MirrorBody {
  readonly apiVersion: 'v1' | 'rbac.authorization.k8s.io/v1';
  readonly kind: Kind;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReference[];
    readonly resourceVersion?: string;
  };
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly binaryData?: Readonly<Record<string, string>>;
  /** Role. */
  readonly rules?: CanonicalValue;
  /** RoleBinding. */
  readonly subjects?: CanonicalValue;
  readonly roleRef?: CanonicalValue;
  /** ServiceAccount. */
  readonly imagePullSecrets?: CanonicalValue;
}

/** A JSON merge patch on a pull target (never replaces keys the target owns itself). */
export interface PullPatch {
  readonly metadata: {
    readonly resourceVersion: string;
    /** `null` removes a marker that no longer applies. */
    readonly annotations: Readonly<Record<string, string | null>>;
  };
  /** Secrets and ConfigMaps; absent for the identity kinds. */
  readonly data?: Readonly<Record<string, string | null>>;
  readonly binaryData?: Readonly<Record<string, string | null>>;
  /** The identity kinds' pulled fields (rules/kinds.ts PULLED_FIELDS_OF). */
  readonly rules?: CanonicalValue;
  readonly subjects?: CanonicalValue;
  readonly imagePullSecrets?: CanonicalValue;
}

/** A write that makes one decision true. */
export type WriteOp =
  | { readonly verb: 'create'; readonly target: ObjectKey; readonly body: MirrorBody }
  | {
      readonly verb: 'replace';
      readonly target: ObjectKey;
      readonly body: MirrorBody;
      /** The UID of the object replaced; re-creation (type change, immutable) keeps ownership checks. */
      readonly uid: string;
    }
  | { readonly verb: 'patch'; readonly target: ObjectKey; readonly patch: PullPatch }
  | {
      readonly verb: 'delete';
      readonly target: ObjectKey;
      readonly uid: string;
      readonly resourceVersion: string;
    };

/** plan()'s answer. */
export interface Plan {
  readonly decisions: readonly Decision[];
  readonly ops: readonly WriteOp[];
  /** Problems to report on the source (invalid annotations, unsupported features). */
  readonly sourceProblems: SourceSpec['problems'];
  /**
   * Pull targets whose data must be read before they can be written: the plan would write keys
   * the target never got from nsync, and only its data tells whether it holds them of its own.
   * Their decisions carry no op; plan again with PullTarget.held set.
   */
  readonly readsFirst: readonly ObjectKey[];
  /**
   * Source labels and annotations a push rule would copy but may not (rules/copy-policy.ts), as
   * `label <key>` / `annotation <key>`, sorted; reported on the source.
   */
  readonly droppedKeys: readonly string[];
  /**
   * Push rules that select a namespace where another rule of the same source and target name
   * speaks (the first by precedence): the mirror is made once, by that rule, and the others are
   * told. Only rules with an origin are listed (annotations have no one else to tell).
   */
  readonly outranked: readonly {
    readonly origin: string;
    readonly namespace: string;
    readonly name: string;
    readonly by: string;
  }[];
  /** Why the source gets no new mirrors, when it is over its fan-out budget (plan/budget.ts). */
  readonly overBudget?: string;
  /** Parsed pull request problems by target, to report on the target. */
  readonly targetProblems: readonly {
    readonly target: ObjectKey;
    readonly problems: TargetSpec['problems'];
  }[];
}
