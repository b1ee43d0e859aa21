/**
 * Configuration: flags, each with an NSYNC_* environment variable and a default, parsed once,
 * validated with a clear error per bad value, frozen, and passed in (nothing reads process.env
 * at module load).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { compileKeyGlobList, copyPolicy } from '../rules/copy-policy.ts';
import { compileNamespaceGlobList, parsePatternList } from '../rules/patterns.ts';
import type { Dialect, Kind, NamePattern } from '../rules/model.ts';
import type { FanOutBudget } from '../plan/budget.ts';
import type { ContestLimits } from '../plan/contest.ts';
import { labelKeyProblem } from '../rules/names.ts';
import type { Guardrails } from '../plan/model.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';

/** One option: its flag, environment variable, default and help. */
interface OptionSpec {
  readonly flag: string;
  readonly type: 'string' | 'boolean';
  readonly default: string;
  readonly help: string;
}

/** Every option of `nsync run`, in --help order. */
export const OPTIONS = [
  {
    flag: 'kubeconfig',
    type: 'string',
    default: '',
    help: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)',
  },
  { flag: 'context', type: 'string', default: '', help: 'kubeconfig context to use' },
  { flag: 'in-cluster', type: 'boolean', default: 'false', help: 'use the pod’s service account' },
  {
    flag: 'exclude-namespaces',
    type: 'string',
    default: 'kube-system,kube-public,kube-node-lease',
    help: 'globs of namespaces nsync never writes to nor reads sources from',
  },
  {
    flag: 'source-namespaces',
    type: 'string',
    default: '*',
    help: 'globs of namespaces whose objects may push mirrors',
  },
  {
    flag: 'kinds',
    type: 'string',
    default: 'secrets,configmaps',
    help: 'kinds to mirror: secrets, configmaps, and (only from --rbac-source-namespaces) roles, rolebindings, serviceaccounts',
  },
  {
    flag: 'rbac-source-namespaces',
    type: 'string',
    default: '',
    help: 'globs of namespaces whose Roles, RoleBindings and ServiceAccounts may be pushed or pulled (default none: they can grant what nsync holds; trust only namespaces the platform team alone writes)',
  },
  {
    flag: 'dialects',
    type: 'string',
    default: 'native,reflector,replicator,kubed',
    help: 'annotation dialects to honour',
  },
  {
    flag: 'opt-out-label',
    type: 'string',
    default: 'nsync.dev/opt-out',
    help: 'a namespace with this label set to "true" refuses every pushed mirror',
  },
  {
    flag: 'resync-period',
    type: 'string',
    default: '10m',
    help: 'how often every source is reconciled even without changes',
  },
  { flag: 'workers', type: 'string', default: '4', help: 'sources reconciled at once' },
  {
    flag: 'write-concurrency',
    type: 'string',
    default: '32',
    help: 'writes in flight at once',
  },
  { flag: 'listen', type: 'string', default: ':8080', help: 'address of /metrics, /healthz and /readyz' },
  {
    flag: 'leader-elect',
    type: 'boolean',
    default: 'true',
    help: 'only the holder of a Lease writes (run 2+ replicas safely)',
  },
  {
    flag: 'lease-namespace',
    type: 'string',
    default: '',
    help: 'namespace of the Lease (default: $POD_NAMESPACE, else the context’s namespace, else default)',
  },
  { flag: 'lease-name', type: 'string', default: 'nsync', help: 'name of the Lease' },
  {
    flag: 'lease-duration',
    type: 'string',
    default: '15s',
    help: 'how long a Lease is valid without renewal',
  },
  {
    flag: 'renew-deadline',
    type: 'string',
    default: '10s',
    help: 'the leader stops when it could not renew for this long',
  },
  {
    flag: 'retry-period',
    type: 'string',
    default: '2s',
    help: 'how often candidates try to acquire and leaders renew',
  },
  {
    flag: 'identity',
    type: 'string',
    default: '',
    help: 'this instance’s name in the Lease and Events (default: $POD_NAME, else host-pid)',
  },
  {
    flag: 'adopt-replicator-replicas',
    type: 'boolean',
    default: 'false',
    help: 'take over objects that look like kubernetes-replicator replicas (they name no source: enable only while migrating from replicator)',
  },
  {
    flag: 'cluster-name',
    type: 'string',
    default: '',
    help: 'this cluster’s name, written in kubed’s origin.cluster label',
  },
  {
    flag: 'remote-kubeconfig',
    type: 'string',
    default: '',
    help: 'kubeconfig whose contexts are the target clusters of kubed’s sync-contexts (needs --cluster-name)',
  },
  {
    flag: 'remote-kubeconfig-check-period',
    type: 'string',
    default: '10s',
    help: 'how often --remote-kubeconfig is read again: a changed context is rebuilt without a restart',
  },
  {
    flag: 'registered-clusters',
    type: 'boolean',
    default: 'false',
    help: 'serve the target clusters registered as Secrets labelled nsync.dev/cluster in --own-namespace (needs --cluster-name)',
  },
  {
    flag: 'target-consent',
    type: 'boolean',
    default: 'false',
    help: 'push only into namespaces whose nsync.dev/accept-from annotation accepts the source’s namespace (multi-tenant clusters)',
  },
  {
    flag: 'own-namespace',
    type: 'string',
    default: '',
    help: 'nsync’s own namespace, never a mirror target (default: $POD_NAMESPACE)',
  },
  {
    flag: 'mirror-into-own-namespace',
    type: 'boolean',
    default: 'false',
    help: 'let pushes land in nsync’s own namespace too',
  },
  {
    flag: 'never-copy-keys',
    type: 'string',
    default: '',
    help: 'globs of label and annotation keys never copied, besides the built-in list',
  },
  {
    flag: 'allow-copy-keys',
    type: 'string',
    default: '',
    help: 'globs of keys on the built-in never-copy list that may be copied after all',
  },
  {
    flag: 'max-restores',
    type: 'string',
    default: '3',
    help: 'restores of a mirror someone else changed within --restore-window before it is left as contested',
  },
  {
    flag: 'restore-window',
    type: 'string',
    default: '10m',
    help: 'the window --max-restores counts in',
  },
  {
    flag: 'max-targets-per-source',
    type: 'string',
    default: '10000',
    help: 'mirrors one source may have; over it the source gets no new ones',
  },
  {
    flag: 'max-bytes-per-source',
    type: 'string',
    default: '512Mi',
    help: 'bytes one source may place (mirrors × content size; Ki, Mi, Gi); over it the source gets no new mirrors',
  },
  { flag: 'log-level', type: 'string', default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
] as const satisfies readonly OptionSpec[];

type Flag = (typeof OPTIONS)[number]['flag'];

/** The validated configuration of `nsync run`. */
export interface Config {
  readonly access: { readonly kubeconfig?: string; readonly context?: string; readonly inCluster: boolean };
  readonly excludeNamespaces: readonly string[];
  readonly sourceNamespaces: readonly string[];
  readonly kinds: readonly Kind[];
  /** `--rbac-source-namespaces`: the only namespaces whose identity kinds are sources (ADR 17). */
  readonly rbacSourceNamespaces: readonly string[];
  readonly dialects: readonly Dialect[];
  readonly optOutLabel: string;
  readonly resyncPeriodMs: number;
  readonly workers: number;
  readonly writeConcurrency: number;
  readonly listen: { readonly host: string; readonly port: number };
  readonly leaderElection:
    | { readonly enabled: false }
    | {
        readonly enabled: true;
        readonly namespace: string;
        readonly name: string;
        readonly leaseDurationMs: number;
        readonly renewDeadlineMs: number;
        readonly retryPeriodMs: number;
      };
  readonly identity: string;
  readonly clusterName: string;
  /**
   * `--remote-kubeconfig`: each context is a target cluster for kubed's `sync-contexts`
   * (docs/adr/0018); '' = cross-cluster sync is off and `sync-contexts` is reported unsupported.
   */
  readonly remoteKubeconfig: string;
  /**
   * `--remote-kubeconfig-check-period`: the file is read again this often and a changed context
   * rebuilt (docs/adr/0028); polling sees the kubelet's symlink swap, which a file watch can miss.
   */
  readonly remoteKubeconfigCheckMs: number;
  /**
   * `--registered-clusters`: Secrets labelled `nsync.dev/cluster` in `ownNamespace` are target
   * clusters, added, rebuilt and removed while nsync runs (docs/adr/0021).
   */
  readonly registeredClusters: boolean;
  readonly adoptReplicatorReplicas: boolean;
  readonly targetConsent: boolean;
  /** nsync's own namespace ('' when unknown) and whether pushes may land there. */
  readonly ownNamespace: string;
  /** $POD_UID: the uid of nsync's Pod, for Events about the process itself ('' when unknown). */
  readonly podUid: string;
  readonly mirrorIntoOwnNamespace: boolean;
  readonly neverCopyKeys: readonly string[];
  readonly allowCopyKeys: readonly string[];
  readonly contest: ContestLimits;
  readonly budget: FanOutBudget;
  readonly logLevel: LogLevel;
}

/** A configuration error: every bad value, each with what was expected. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The environment variable of a flag: --exclude-namespaces → NSYNC_EXCLUDE_NAMESPACES. */
export function envName(flag: string): string {
  return `NSYNC_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Parses a byte quantity such as 1048576, 512Ki, 512Mi, 2Gi. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[
    (match[2] ?? '') as '' | 'Ki'
  ];
  return Number(match[1]) * unit;
}

/** Parses a duration such as 500ms, 30s, 10m, 1h. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

const KINDS: Readonly<Record<string, Kind>> = {
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  roles: 'Role',
  rolebindings: 'RoleBinding',
  serviceaccounts: 'ServiceAccount',
};
const DIALECTS: readonly Dialect[] = ['native', 'reflector', 'replicator', 'kubed'];

/** The `nsync run` options as help text. */
export function optionsHelp(): string {
  return OPTIONS.map(
    (option) =>
      `  --${option.flag}${option.type === 'string' ? ' <value>' : ''}\n      ${option.help}\n      env ${envName(option.flag)}; default ${option.default === '' ? '(none)' : option.default}`,
  ).join('\n');
}

/** Parses and validates the options of `nsync run` from argv and the environment. */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Config {
  // Boolean flags also take Go-style explicit values (--leader-elect=false), as operators of the
  // tools nsync replaces write them.
  const explicit = new Map<string, string>();
  const args = argv.filter((arg) => {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    const option = match ? OPTIONS.find((candidate) => candidate.flag === match[1]) : undefined;
    if (match && option?.type === 'boolean') {
      explicit.set(option.flag, match[2] ?? '');
      return false;
    }
    return true;
  });
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(OPTIONS.map((option) => [option.flag, { type: option.type }])),
    strict: true,
    allowPositionals: false,
  });
  const problems: string[] = [];
  const raw = (flag: Flag): string => {
    const given = explicit.get(flag);
    if (given !== undefined) return given;
    const value = values[flag];
    if (typeof value === 'string') return value;
    if (typeof value === 'boolean') return String(value);
    const spec = OPTIONS.find((option) => option.flag === flag);
    return env[envName(flag)] ?? spec?.default ?? '';
  };
  const bool = (flag: Flag): boolean => {
    const value = raw(flag).trim().toLowerCase();
    if (value === 'true' || value === 'false') return value === 'true';
    problems.push(`--${flag}: expected true or false, got "${value}"`);
    return false;
  };
  const duration = (flag: Flag): number => {
    const ms = parseDuration(raw(flag));
    if (ms === undefined || ms <= 0)
      problems.push(`--${flag}: expected a duration such as 500ms, 30s, 10m or 1h, got "${raw(flag)}"`);
    return ms ?? 0;
  };
  const count = (flag: Flag): number => {
    const value = Number(raw(flag));
    if (!Number.isInteger(value) || value < 1 || value > 1024)
      problems.push(`--${flag}: expected a whole number from 1 to 1024, got "${raw(flag)}"`);
    return value;
  };
  const whole = (flag: Flag, max: number): number => {
    const value = Number(raw(flag));
    if (!Number.isInteger(value) || value < 1 || value > max)
      problems.push(`--${flag}: expected a whole number from 1 to ${String(max)}, got "${raw(flag)}"`);
    return value;
  };
  const keyGlobs = (flag: Flag): string[] => {
    const compiled = compileKeyGlobList(raw(flag));
    if (!compiled.ok) problems.push(`--${flag}: ${compiled.error}`);
    return parsePatternList(raw(flag));
  };
  const globs = (flag: Flag): string[] => {
    const text = raw(flag).trim();
    if (text === '') return [];
    const compiled = compileNamespaceGlobList(text);
    if (!compiled.ok) problems.push(`--${flag}: ${compiled.error}`);
    return text
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
  };
  const list = <T>(flag: Flag, allowed: Readonly<Record<string, T>>): T[] => {
    const entries = raw(flag)
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== '');
    const unknown = entries.filter((entry) => !Object.hasOwn(allowed, entry));
    if (unknown.length > 0 || entries.length === 0) {
      problems.push(
        `--${flag}: expected a comma list of ${Object.keys(allowed).join(', ')}, got "${raw(flag)}"`,
      );
    }
    return [
      ...new Set(
        entries.filter((entry) => Object.hasOwn(allowed, entry)).map((entry) => allowed[entry] as T),
      ),
    ];
  };

  const optOutLabel = raw('opt-out-label').trim();
  const labelProblem = labelKeyProblem(optOutLabel);
  if (labelProblem !== undefined) problems.push(`--opt-out-label: ${labelProblem}`);
  const [host, portText] = splitListen(raw('listen'));
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    problems.push(`--listen: expected [host]:port, got "${raw('listen')}"`);
  const logLevel = raw('log-level').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    problems.push(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const leaderElect = bool('leader-elect');
  const leaseDurationMs = duration('lease-duration');
  const renewDeadlineMs = duration('renew-deadline');
  const retryPeriodMs = duration('retry-period');
  if (leaderElect && !(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
    problems.push('--retry-period < --renew-deadline < --lease-duration must hold');
  }
  const kubeconfig = raw('kubeconfig').trim();
  const remoteKubeconfig = raw('remote-kubeconfig').trim();
  const registeredClusters = bool('registered-clusters');
  const ownNamespace = raw('own-namespace').trim() || env['POD_NAMESPACE'] || '';
  for (const [flag, used] of [
    ['--remote-kubeconfig', remoteKubeconfig !== ''],
    ['--registered-clusters', registeredClusters],
  ] as const) {
    if (used && raw('cluster-name').trim() === '')
      problems.push(
        `${flag} needs --cluster-name: mirrors in other clusters must say which cluster their source is in`,
      );
  }
  if (
    (remoteKubeconfig !== '' || registeredClusters) &&
    !/^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(raw('cluster-name').trim())
  )
    problems.push(
      `--cluster-name: with --remote-kubeconfig or --registered-clusters it is a label value on every remote mirror (at most 63 letters, digits, "-", "_", "."), got "${raw('cluster-name').trim()}"`,
    );
  if (registeredClusters && ownNamespace === '')
    problems.push(
      '--registered-clusters needs --own-namespace (or $POD_NAMESPACE): the registration Secrets are read there',
    );
  const context = raw('context').trim();
  const maxBytes = parseBytes(raw('max-bytes-per-source')) ?? 0;
  if (maxBytes < 1)
    problems.push(
      `--max-bytes-per-source: expected a byte count such as 512Mi or 2Gi, got "${raw('max-bytes-per-source')}"`,
    );
  const config: Config = {
    access: {
      ...(kubeconfig === '' ? {} : { kubeconfig }),
      ...(context === '' ? {} : { context }),
      inCluster: bool('in-cluster'),
    },
    excludeNamespaces: globs('exclude-namespaces'),
    sourceNamespaces: globs('source-namespaces'),
    kinds: list('kinds', KINDS),
    rbacSourceNamespaces: globs('rbac-source-namespaces'),
    dialects: list('dialects', Object.fromEntries(DIALECTS.map((dialect) => [dialect, dialect]))),
    optOutLabel,
    resyncPeriodMs: duration('resync-period'),
    workers: count('workers'),
    writeConcurrency: count('write-concurrency'),
    listen: { host, port },
    leaderElection: leaderElect
      ? {
          enabled: true,
          namespace: raw('lease-namespace').trim() || env['POD_NAMESPACE'] || '',
          name: raw('lease-name').trim(),
          leaseDurationMs,
          renewDeadlineMs,
          retryPeriodMs,
        }
      : { enabled: false },
    identity: raw('identity').trim() || env['POD_NAME'] || `${hostname()}-${String(process.pid)}`,
    clusterName: raw('cluster-name').trim(),
    remoteKubeconfig,
    remoteKubeconfigCheckMs: duration('remote-kubeconfig-check-period'),
    registeredClusters,
    adoptReplicatorReplicas: bool('adopt-replicator-replicas'),
    targetConsent: bool('target-consent'),
    ownNamespace,
    podUid: env['POD_UID'] ?? '',
    mirrorIntoOwnNamespace: bool('mirror-into-own-namespace'),
    neverCopyKeys: keyGlobs('never-copy-keys'),
    allowCopyKeys: keyGlobs('allow-copy-keys'),
    contest: { maxRestores: whole('max-restores', 1000), windowMs: duration('restore-window') },
    budget: { maxTargets: whole('max-targets-per-source', 1_000_000), maxBytes },
    logLevel: logLevel as LogLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function splitListen(text: string): [string, string] {
  const index = text.lastIndexOf(':');
  if (index < 0) return ['0.0.0.0', text];
  return [text.slice(0, index) || '0.0.0.0', text.slice(index + 1)];
}

/** The guardrails every rule of every dialect passes through. */
export function guardrailsOf(config: Config): Guardrails {
  const excluded = compileNamespaceGlobList(config.excludeNamespaces.join(','));
  const sources = compileNamespaceGlobList(config.sourceNamespaces.join(','));
  const rbacSources = compileNamespaceGlobList(config.rbacSourceNamespaces.join(','));
  const matches = (compiled: typeof excluded, namespace: string, empty: boolean): boolean => {
    if (!compiled.ok) return empty;
    const { includes, excludes } = compiled.value;
    if (excludes.some((pattern) => pattern.test(namespace))) return false;
    return includes.length === 0 ? empty : includes.some((pattern) => pattern.test(namespace));
  };
  return {
    isExcluded: (namespace) => matches(excluded, namespace, false),
    mayPushFrom: (namespace) => matches(sources, namespace, false),
    isRbacSource: (namespace) => matches(rbacSources, namespace, false),
    optOutLabel: config.optOutLabel,
    dialects: new Set(config.dialects),
    clusterName: config.clusterName,
    adoptReplicatorReplicas: config.adoptReplicatorReplicas,
    targetConsent: config.targetConsent,
    isProtected: (namespace) =>
      !config.mirrorIntoOwnNamespace && config.ownNamespace !== '' && namespace === config.ownNamespace,
    copyPolicy: copyPolicy({
      never: keyPatterns(config.neverCopyKeys),
      allow: keyPatterns(config.allowCopyKeys),
    }),
    contest: config.contest,
    budget: config.budget,
  };
}

/** Compiles key globs parseConfig already validated. */
function keyPatterns(entries: readonly string[]): NamePattern[] {
  const compiled = compileKeyGlobList(entries.join(','));
  return compiled.ok ? compiled.value : [];
}
