import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  CLUSTER_LABEL,
  NAMESPACE_ANNOTATION,
  parseRegistration,
  resolveRegistrations,
  type RegistrationSecret,
} from './registration.ts';

// A real (public) certificate, so the CA check has something to accept; its key was thrown away.
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBhjCCAS2gAwIBAgIUYSZsp0FukNBgILPHIq1tNB1gp34wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNbnN5bmMtdGVzdC1jYTAgFw0yNjExMzAxNDI4MjJaGA8yMTI2
MTEwNjE0MjgyMlowGDEWMBQGA1UEAwwNbnN5bmMtdGVzdC1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABBbt/SIdoviWDQWbtmKRU63dmlg/2pSyKgssUxxhTZH9
weJgYTn0Bakh+jc5TSobMFqivBKfpZKFAbX1mWzsbe+jUzBRMB0GA1UdDgQWBBTu
gl5rb+v35knBR1MCRvur2yCZ6zAfBgNVHSMEGDAWgBTugl5rb+v35knBR1MCRvur
2yCZ6zAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIBxZBcQcMUjW
q/dTWtVvmJG9i6L9i91ifTJwgL1ge7yQAiAsZqVZCmYh87utvow23nPHX6CQYTCP
uhKjz8pCBVPu1Q==
-----END CERTIFICATE-----
`;
// Recognisable fake secret: no message may ever contain it.
const TOKEN = 'tok-SECRET-7777';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function secret(
  name: string,
  data: Record<string, string>,
  extra: Partial<Pick<RegistrationSecret, 'labels' | 'annotations' | 'creationTimestamp'>> = {},
): RegistrationSecret {
  return {
    namespace: 'nsync',
    name: `cluster-${name}`,
    uid: `uid-${name}`,
    creationTimestamp: extra.creationTimestamp ?? '2026-11-30T10:00:00Z',
    labels: extra.labels ?? { [CLUSTER_LABEL]: name },
    annotations: extra.annotations ?? {},
    data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, b64(value)])),
  };
}

function tokenData(server = 'https://east.example:6443', token = TOKEN): Record<string, string> {
  return { server, token, 'ca.crt': CA_PEM };
}

function kubeconfigText(user: string, options: { namespace?: string; cluster?: string } = {}): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: east',
    'clusters:',
    '- name: east',
    '  cluster:',
    '    server: https://east.example:6443',
    `    certificate-authority-data: ${b64(CA_PEM)}`,
    ...(options.cluster === undefined ? [] : [`    ${options.cluster}`]),
    'users:',
    '- name: east',
    '  user:',
    ...user.split('\n').map((line) => `    ${line}`),
    'contexts:',
    '- name: east',
    '  context:',
    '    cluster: east',
    '    user: east',
    ...(options.namespace === undefined ? [] : [`    namespace: ${options.namespace}`]),
    '',
  ].join('\n');
}

function problemOf(registration: RegistrationSecret): string {
  const parsed = parseRegistration(registration);
  if (parsed.ok) assert.fail('expected the registration to be refused');
  const error = parsed.error;
  assert.ok(!error.includes(TOKEN), `the message quotes the token: ${error}`);
  return error;
}

const LOCAL = new URL('https://home.example:6443');

test('token form: server, token and CA become a transport config; labels, accept-from and namespace are the cluster’s', async () => {
  const parsed = parseRegistration(
    secret(
      'east',
      { ...tokenData(), namespace: 'apps', 'tls-server-name': 'kubernetes' },
      {
        labels: { [CLUSTER_LABEL]: 'east', env: 'prod' },
        annotations: { 'nsync.dev/accept-from': 'team-*, !team-legacy' },
      },
    ),
  );
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  const registration = parsed.value;
  assert.equal(registration.name, 'east');
  assert.equal(registration.namespace, 'apps');
  assert.deepEqual(registration.labels, { env: 'prod' });
  assert.equal(registration.acceptFrom, 'team-*, !team-legacy');
  assert.equal(registration.kubeconfig.server.host, 'east.example:6443');
  const connection = await registration.kubeconfig.connect();
  assert.equal(connection.tls.servername, 'kubernetes');
  assert.equal(connection.tls.ca?.toString('utf8'), CA_PEM);
  assert.deepEqual((await connection.credentials.current()).headers, { Authorization: `Bearer ${TOKEN}` });
  assert.ok(
    !JSON.stringify(registration).includes(TOKEN),
    'a registration holds no token in a loggable field',
  );
});

test('kubeconfig form: its current-context, with the context’s namespace', async () => {
  const parsed = parseRegistration(
    secret('east', { kubeconfig: kubeconfigText(`token: ${TOKEN}`, { namespace: 'apps' }) }),
  );
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  assert.equal(parsed.value.namespace, 'apps');
  assert.equal(parsed.value.kubeconfig.server.origin, 'https://east.example:6443');
  const connection = await parsed.value.kubeconfig.connect();
  assert.deepEqual((await connection.credentials.current()).headers, { Authorization: `Bearer ${TOKEN}` });
});

test('kubeconfig form: exec and auth-provider plugins, file references, proxy-url and impersonation are refused', () => {
  const refused: [string, string, { cluster?: string }?][] = [
    [
      `token: ${TOKEN}\nexec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: /bin/sh\n  args: ["-c", "id"]`,
      'exec',
    ],
    [`auth-provider:\n  name: oidc\n  config:\n    id-token: ${TOKEN}`, 'auth-provider'],
    ['tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token', 'tokenFile'],
    ['client-certificate: /etc/passwd\nclient-key: /etc/shadow', 'client-certificate'],
    [`token: ${TOKEN}`, 'certificate-authority', { cluster: 'certificate-authority: /etc/ssl/ca.pem' }],
    [`token: ${TOKEN}`, 'proxy-url', { cluster: 'proxy-url: http://127.0.0.1:3128' }],
    [`token: ${TOKEN}\nas: admin`, '"as"'],
  ];
  for (const [user, key, options] of refused) {
    const kubeconfig = kubeconfigText(user, options);
    // Without the refusal the cluster-level keys still fail later for other reasons: check the key is named.
    const error = problemOf(secret('east', { kubeconfig }));
    assert.match(error, new RegExp(`uses ${key.replaceAll('"', '')}\\b`), error);
    assert.match(error, /runs no command and reads no file/);
  }
});

test('refused: a bad name, bad accept-from, unknown keys, both forms, a missing key, http:, a non-certificate CA, two namespaces', () => {
  const cases: [RegistrationSecret, RegExp][] = [
    [secret('East_1', tokenData()), /must be a cluster name/],
    [secret('east', tokenData(), { labels: { [CLUSTER_LABEL]: '' } }), /must be a cluster name/],
    [
      secret('east', tokenData(), { annotations: { 'nsync.dev/accept-from': 'Team_*' } }),
      /accept-from.*can never match a namespace/,
    ],
    [secret('east', { ...tokenData(), password: TOKEN }), /unknown data key "password"/],
    [secret('east', { ...tokenData(), kubeconfig: kubeconfigText(`token: ${TOKEN}`) }), /one form/],
    [secret('east', { server: 'https://east.example', token: TOKEN }), /"ca.crt" missing/],
    [secret('east', {}), /"server", "token", "ca.crt" missing/],
    [secret('east', tokenData('http://east.example:8080')), /https: URL/],
    [secret('east', { ...tokenData(), 'ca.crt': TOKEN }), /ca.crt\) is not a PEM certificate/],
    [secret('east', tokenData('https://east.example', 'two words')), /token must be one line/],
    [
      secret(
        'east',
        { ...tokenData(), namespace: 'apps' },
        { annotations: { [NAMESPACE_ANNOTATION]: 'other' } },
      ),
      /name different namespaces/,
    ],
    [secret('east', { ...tokenData(), namespace: 'Apps!' }), /namespace name has only lowercase/],
    [secret('east', { kubeconfig: `{{{ ${TOKEN}` }), /is not valid YAML/],
    [
      secret('east', { kubeconfig: kubeconfigText(`token: ${TOKEN}`).replace('current-context: east', '') }),
      /sets no current-context/,
    ],
  ];
  for (const [registration, expected] of cases) assert.match(problemOf(registration), expected);
});

test('a rotated token, a relabelled or re-scoped registration changes the fingerprint; key order does not', () => {
  const fingerprint = (registration: RegistrationSecret): string => {
    const parsed = parseRegistration(registration);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    return parsed.value.fingerprint;
  };
  const base = fingerprint(secret('east', tokenData()));
  assert.notEqual(fingerprint(secret('east', tokenData(undefined, `${TOKEN}-2`))), base);
  assert.notEqual(
    fingerprint(secret('east', tokenData(), { labels: { [CLUSTER_LABEL]: 'east', env: 'prod' } })),
    base,
  );
  assert.notEqual(fingerprint(secret('east', { ...tokenData(), namespace: 'apps' })), base);
  assert.notEqual(
    fingerprint(secret('east', tokenData(), { annotations: { 'nsync.dev/accept-from': '*' } })),
    base,
  );
  const reordered = secret('east', { 'ca.crt': CA_PEM, token: TOKEN, server: 'https://east.example:6443' });
  assert.equal(fingerprint(reordered), base);
  assert.ok(!base.includes(TOKEN));
});

test('resolveRegistrations: a name or API server that is already a cluster is refused, the older registration keeps it', () => {
  const older = { creationTimestamp: '2026-11-30T09:00:00Z' };
  const { valid, invalid } = resolveRegistrations(
    [
      secret('west', tokenData('https://west.example:6443')),
      secret('east', tokenData('https://east.example:6443'), older),
      // The same API server as east, registered later.
      secret('east-again', tokenData('https://east.example:6443')),
      // A context of --remote-kubeconfig already has this name.
      secret('north', tokenData('https://north-2.example:6443')),
      // This cluster itself.
      secret('home', tokenData('https://home.example:6443')),
      // A context already reaches this server.
      secret('south', tokenData('https://south.example:6443')),
      // The same name as west, newer.
      {
        ...secret('west', tokenData('https://west-2.example:6443')),
        name: 'cluster-west-2',
        uid: 'uid-west-2',
        creationTimestamp: '2026-11-30T11:00:00Z',
      },
    ],
    {
      local: LOCAL,
      contexts: [
        { name: 'north', server: new URL('https://north.example:6443') },
        { name: 'other', server: new URL('https://south.example:6443') },
      ],
    },
  );
  assert.deepEqual(
    valid.map((registration) => registration.name),
    ['east', 'west'],
  );
  const problems = Object.fromEntries(invalid.map(({ secret: s, problem }) => [s.name, problem]));
  assert.match(problems['cluster-east-again'] ?? '', /already reached as registered cluster "east"/);
  assert.match(problems['cluster-north'] ?? '', /already a context of --remote-kubeconfig/);
  assert.match(problems['cluster-home'] ?? '', /already reached as this cluster/);
  assert.match(problems['cluster-south'] ?? '', /already reached as context "other"/);
  assert.match(problems['cluster-west-2'] ?? '', /already registered by Secret cluster-west/);
  assert.equal(invalid.length, 5);
});

test('property: any data either parses or is refused with a message, never throws and never quotes a value', () => {
  const key = fc.constantFrom('kubeconfig', 'server', 'token', 'ca.crt', 'tls-server-name', 'namespace', 'x');
  const value = fc.oneof(
    fc.constant(TOKEN),
    fc.constant(CA_PEM),
    fc.constant('https://east.example:6443'),
    fc.constant(kubeconfigText(`token: ${TOKEN}`)),
    fc.string().map((text) => `${text}${TOKEN}`),
  );
  fc.assert(
    fc.property(fc.dictionary(key, value), fc.string(), (data, annotation) => {
      const parsed = parseRegistration(
        secret('east', data, {
          annotations: { 'nsync.dev/accept-from': annotation, [NAMESPACE_ANNOTATION]: annotation },
        }),
      );
      const shown = parsed.ok ? `${parsed.value.name} ${parsed.value.fingerprint}` : parsed.error;
      return !shown.includes(TOKEN);
    }),
    { numRuns: 300 },
  );
});
