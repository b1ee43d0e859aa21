/**
 * Which source labels and annotations may travel into another namespace. Some keys make another
 * controller act on the object they sit on: Argo CD reads a Secret labelled
 * `argocd.argoproj.io/secret-type: cluster` as a cluster credential, Istio connects to the cluster
 * in a Secret labelled `istio/multiCluster`, Kubernetes' token controller fills a Secret that names
 * a service account, Helm adopts an object whose `meta.helm.sh/` annotations name a release. A
 * copy would make that controller act in the target namespace, on a tenant's word, so these keys
 * are never copied unless the operator allows them (`--allow-copy-keys`); operators extend the
 * list with `--never-copy-keys`.
 *
 * Pure: no I/O.
 */
import { compileGlob, parsePatternList } from './patterns.ts';
import type { NamePattern } from './model.ts';
import { fail, ok, quote, type Result } from './result.ts';

/** One built-in entry: a key glob and the controller it would wake. */
export interface DeniedKey {
  readonly glob: string;
  readonly why: string;
}

/**
 * The built-in deny list (docs/security.md, "Labels and annotations that are never copied").
 * Globs over the whole key: `*` is any run of characters.
 */
export const BUILT_IN_DENIED_KEYS: readonly DeniedKey[] = [
  { glob: 'argocd.argoproj.io/*', why: 'Argo CD (cluster and repository credentials, tracking)' },
  { glob: 'app.kubernetes.io/instance', why: "Argo CD's default tracking label" },
  { glob: 'app.kubernetes.io/part-of', why: 'Argo CD reads Secrets labelled part-of=argocd as its settings' },
  { glob: 'fluxcd.io/*', why: 'Flux' },
  { glob: '*.fluxcd.io/*', why: 'Flux (kustomize, helm, source, notification, image, reconcile requests)' },
  { glob: 'meta.helm.sh/*', why: 'Helm release ownership (a release adopts the object)' },
  { glob: 'helm.sh/*', why: 'Helm hooks and resource policy' },
  {
    glob: 'kubernetes.io/*',
    why: 'Kubernetes core (the token controller fills Secrets that name a service account)',
  },
  { glob: '*.kubernetes.io/*', why: 'Kubernetes core components (addon manager, kubectl, services, nodes)' },
  { glob: 'k8s.io/*', why: 'Kubernetes core' },
  { glob: '*.k8s.io/*', why: 'Kubernetes core and SIG projects' },
  // cert-manager's own `cert-manager.io/` annotations on an issued Secret only describe it (kubed
  // users rely on their copy, seed example); trust-manager deletes and rewrites what it labels.
  { glob: 'trust.cert-manager.io/*', why: 'trust-manager (bundle targets it writes and prunes)' },
  { glob: 'external-secrets.io/*', why: 'External Secrets Operator' },
  { glob: '*.external-secrets.io/*', why: 'External Secrets Operator' },
  { glob: 'sealedsecrets.bitnami.com/*', why: 'Sealed Secrets' },
  { glob: 'kyverno.io/*', why: 'Kyverno (generated resources are synced and deleted by it)' },
  { glob: '*.kyverno.io/*', why: 'Kyverno' },
  { glob: 'istio/multiCluster', why: 'Istio connects to the cluster whose kubeconfig such a Secret holds' },
  { glob: 'istio.io/*', why: 'Istio' },
  { glob: '*.istio.io/*', why: 'Istio' },
  { glob: 'linkerd.io/*', why: 'Linkerd' },
  { glob: '*.linkerd.io/*', why: 'Linkerd (multicluster credentials)' },
  { glob: '*.openshift.io/*', why: 'OpenShift (CA bundle injection, service serving certificates)' },
  { glob: 'kapp.k14s.io/*', why: 'kapp ownership' },
  { glob: 'velero.io/*', why: 'Velero backup and restore selection' },
  { glob: '*.cattle.io/*', why: 'Rancher and Fleet' },
  { glob: 'reloader.stakater.com/*', why: 'Reloader (restarts workloads)' },
];

/**
 * Keys under a denied glob that carry no instruction to any controller: the recommended
 * `app.kubernetes.io/` labels users select on.
 */
const BUILT_IN_EXEMPT = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
];

/** Characters a key glob may hold: those of label and annotation keys plus the two wildcards. */
const KEY_GLOB = /^[A-Za-z0-9._\-/*?]+$/u;

/** Compiles a comma list of key globs (an operator flag); all-or-nothing. */
export function compileKeyGlobList(text: string): Result<NamePattern[]> {
  const patterns: NamePattern[] = [];
  const errors: string[] = [];
  for (const entry of parsePatternList(text)) {
    if (!KEY_GLOB.test(entry)) {
      errors.push(
        `${quote(entry)} is not a label or annotation key glob (letters, digits, ".", "-", "_", "/", "*", "?")`,
      );
      continue;
    }
    const compiled = compileGlob(entry);
    if (compiled.ok) patterns.push(compiled.value);
    else errors.push(compiled.error);
  }
  return errors.length > 0 ? fail(errors.join('; ')) : ok(patterns);
}

/** The decision for one key: whether it may be copied. */
export interface CopyPolicy {
  /** True when a label or annotation with this key must not be copied into another namespace. */
  readonly denies: (key: string) => boolean;
}

function globs(entries: readonly string[]): NamePattern[] {
  const compiled = compileKeyGlobList(entries.join(','));
  if (!compiled.ok) throw new Error(`built-in key globs do not compile: ${compiled.error}`);
  return compiled.value;
}

const BUILT_IN = globs(BUILT_IN_DENIED_KEYS.map((entry) => entry.glob));
const EXEMPT = globs(BUILT_IN_EXEMPT);

/**
 * The policy: a key is denied when the operator's `never` list names it, or when the built-in
 * list names it and neither the built-in exemptions nor the operator's `allow` list do.
 */
export function copyPolicy(extra: {
  readonly never: readonly NamePattern[];
  readonly allow: readonly NamePattern[];
}): CopyPolicy {
  const matches = (patterns: readonly NamePattern[], key: string): boolean =>
    patterns.some((pattern) => pattern.test(key));
  const memo = new Map<string, boolean>();
  return {
    denies(key) {
      let denied = memo.get(key);
      if (denied === undefined) {
        denied =
          matches(extra.never, key) ||
          (matches(BUILT_IN, key) && !matches(EXEMPT, key) && !matches(extra.allow, key));
        // Keys repeat across every source and reconcile; the memo is bounded by the keys in use.
        if (memo.size < 10_000) memo.set(key, denied);
      }
      return denied;
    },
  };
}

/** The policy with no operator additions. */
export const DEFAULT_COPY_POLICY: CopyPolicy = copyPolicy({ never: [], allow: [] });
