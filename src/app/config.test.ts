import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, envName, guardrailsOf, parseConfig, parseDuration } from './config.ts';

test('defaults: all kinds and dialects, system namespaces excluded, leader election on', () => {
  const config = parseConfig([], {});
  assert.deepEqual(config.kinds, ['Secret', 'ConfigMap']);
  assert.deepEqual(config.dialects, ['native', 'reflector', 'replicator', 'kubed']);
  assert.deepEqual(config.excludeNamespaces, ['kube-system', 'kube-public', 'kube-node-lease']);
  assert.equal(config.leaderElection.enabled, true);
  assert.equal(config.resyncPeriodMs, 600_000);
  assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
  assert.ok(Object.isFrozen(config));
});

test('flags win over environment variables, which win over defaults', () => {
  const env = { NSYNC_KINDS: 'configmaps', NSYNC_WORKERS: '7', NSYNC_LEADER_ELECT: 'false' };
  const fromEnv = parseConfig([], env);
  assert.deepEqual(fromEnv.kinds, ['ConfigMap']);
  assert.equal(fromEnv.workers, 7);
  assert.equal(fromEnv.leaderElection.enabled, false);
  const fromFlags = parseConfig(['--kinds=secrets', '--workers', '2', '--leader-elect=true'], env);
  assert.deepEqual(fromFlags.kinds, ['Secret']);
  assert.equal(fromFlags.workers, 2);
  assert.equal(fromFlags.leaderElection.enabled, true);
});

test('every bad value is reported at once, each with what was expected', () => {
  assert.throws(
    () =>
      parseConfig(
        [
          '--kinds=secrets,clusterroles',
          '--resync-period=soon',
          '--workers=0',
          '--listen=nowhere',
          '--opt-out-label=Bad Label!',
        ],
        {},
      ),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 5);
      assert.match(error.message, /--kinds: expected a comma list of secrets, configmaps/);
      assert.match(error.message, /--resync-period: expected a duration/);
      assert.match(error.message, /--workers: expected a whole number/);
      assert.match(error.message, /--listen: expected \[host\]:port/);
      assert.match(error.message, /--opt-out-label/);
      return true;
    },
  );
});

test('lease timings must be ordered retry < renew deadline < duration', () => {
  assert.throws(
    () => parseConfig(['--renew-deadline=20s'], {}),
    /--retry-period < --renew-deadline < --lease-duration/,
  );
  assert.doesNotThrow(() => parseConfig(['--renew-deadline=20s', '--leader-elect=false'], {}));
});

test('an unknown flag is refused', () => {
  assert.throws(() => parseConfig(['--replicate-roles'], {}), /Unknown option/);
});

test('durations and environment variable names', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5h'), undefined);
  assert.equal(envName('exclude-namespaces'), 'NSYNC_EXCLUDE_NAMESPACES');
});

test('guardrails: exclusions with "!" carve out allowed namespaces', () => {
  const guardrails = guardrailsOf(
    parseConfig(['--exclude-namespaces=*,!team-*', '--source-namespaces=platform,cert-*'], {}),
  );
  assert.equal(guardrails.isExcluded('team-a'), false);
  assert.equal(guardrails.isExcluded('kube-system'), true);
  assert.equal(guardrails.mayPushFrom('cert-manager'), true);
  assert.equal(guardrails.mayPushFrom('team-a'), false);
  const defaults = guardrailsOf(parseConfig([], {}));
  assert.equal(defaults.isExcluded('kube-system'), true);
  assert.equal(defaults.isExcluded('default'), false);
  assert.equal(defaults.mayPushFrom('anything'), true);
});

test('target boundary options: defaults, values, and one message per bad value', () => {
  const defaults = parseConfig([], { POD_NAMESPACE: 'nsync-system' });
  assert.equal(defaults.targetConsent, false);
  assert.equal(defaults.ownNamespace, 'nsync-system');
  assert.deepEqual(defaults.contest, { maxRestores: 3, windowMs: 600_000 });
  assert.deepEqual(defaults.budget, { maxTargets: 10_000, maxBytes: 512 * 1024 * 1024 });
  const rails = guardrailsOf(defaults);
  assert.equal(rails.isProtected('nsync-system'), true);
  assert.equal(rails.isProtected('team-a'), false);
  assert.equal(rails.copyPolicy.denies('argocd.argoproj.io/secret-type'), true);

  const set = parseConfig(
    [
      '--target-consent',
      '--mirror-into-own-namespace=true',
      '--never-copy-keys=example.com/*',
      '--allow-copy-keys=app.kubernetes.io/part-of',
      '--max-restores=5',
      '--restore-window=1h',
      '--max-targets-per-source=20000',
      '--max-bytes-per-source=2Gi',
    ],
    { POD_NAMESPACE: 'nsync-system' },
  );
  const setRails = guardrailsOf(set);
  assert.equal(setRails.targetConsent, true);
  assert.equal(setRails.isProtected('nsync-system'), false);
  assert.equal(setRails.copyPolicy.denies('example.com/team'), true);
  assert.equal(setRails.copyPolicy.denies('app.kubernetes.io/part-of'), false);
  assert.deepEqual(set.contest, { maxRestores: 5, windowMs: 3_600_000 });
  assert.deepEqual(set.budget, { maxTargets: 20_000, maxBytes: 2 * 1024 ** 3 });

  assert.throws(
    () =>
      parseConfig(
        [
          '--never-copy-keys=bad key',
          '--max-restores=0',
          '--max-bytes-per-source=lots',
          '--max-targets-per-source=-1',
        ],
        {},
      ),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4);
      assert.match(error.problems.join('\n'), /--never-copy-keys: "bad key"/);
      assert.match(error.problems.join('\n'), /--max-bytes-per-source: expected a byte count/);
      return true;
    },
  );
});

test('--remote-kubeconfig needs --cluster-name, a valid label value', () => {
  assert.throws(
    () => parseConfig(['--remote-kubeconfig=/etc/nsync/remote'], {}),
    /--remote-kubeconfig needs --cluster-name/,
  );
  assert.throws(
    () => parseConfig(['--remote-kubeconfig=/etc/nsync/remote', '--cluster-name=not a label'], {}),
    /--cluster-name/,
  );
  const config = parseConfig(['--remote-kubeconfig=/etc/nsync/remote', '--cluster-name=home'], {});
  assert.equal(config.remoteKubeconfig, '/etc/nsync/remote');
  assert.equal(parseConfig([], {}).remoteKubeconfig, '');
});

test('--registered-clusters needs --cluster-name and nsync’s own namespace (flag or $POD_NAMESPACE)', () => {
  assert.throws(
    () => parseConfig(['--registered-clusters', '--own-namespace=nsync'], {}),
    /--registered-clusters needs --cluster-name/,
  );
  assert.throws(
    () => parseConfig(['--registered-clusters', '--cluster-name=home'], {}),
    /--registered-clusters needs --own-namespace/,
  );
  assert.throws(
    () => parseConfig(['--registered-clusters', '--cluster-name=not a label', '--own-namespace=nsync'], {}),
    /--cluster-name: with --remote-kubeconfig or --registered-clusters/,
  );
  const config = parseConfig(['--registered-clusters', '--cluster-name=home'], { POD_NAMESPACE: 'nsync' });
  assert.equal(config.registeredClusters, true);
  assert.equal(config.ownNamespace, 'nsync');
  assert.equal(parseConfig([], {}).registeredClusters, false);
});
