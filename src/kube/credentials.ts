/**
 * Credentials that can change while nsync runs, so the transport asks for them before every
 * request and each source caches what it can: bound service-account tokens rotate (re-read the
 * file), exec plugins hand out credentials that expire (run again), and a 401 says that what is
 * cached is stale.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KubeconfigError } from './errors.ts';

/** What one request presents. */
export interface Credential {
  readonly headers: Readonly<Record<string, string>>;
  /** A client certificate an exec plugin returned; it can change when the plugin is asked again. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** Where a request's credential comes from. */
export interface CredentialSource {
  current(): Promise<Credential>;
  /** The server answered 401: what is cached is stale, ask again next time. */
  invalidate(): void;
}

/** How often a token file is re-read: client-go's period, short enough for bound-token rotation. */
export const TOKEN_FILE_PERIOD_MS = 60_000;

/** No credentials: a context without a user. */
export const ANONYMOUS: CredentialSource = {
  current: () => Promise.resolve({ headers: {} }),
  invalidate() {
    // nothing cached
  },
};

/** A token or basic auth from the kubeconfig: never changes. */
export function constant(headers: Readonly<Record<string, string>>): CredentialSource {
  const credential = Promise.resolve({ headers });
  return {
    current: () => credential,
    invalidate() {
      // nothing to refresh
    },
  };
}

/**
 * A bearer token read from a file and re-read every minute, because bound service-account tokens
 * (and files other tools refresh) rotate under a running process. A read that fails keeps the
 * last good token, as client-go does: the file is usually being replaced.
 */
export class FileToken implements CredentialSource {
  private readonly path: string;
  private readonly now: () => number;
  private token: string | undefined;
  private readAt = -Infinity;

  constructor(path: string, now: () => number, initial?: string) {
    this.path = path;
    this.now = now;
    this.token = initial;
  }

  current(): Promise<Credential> {
    if (this.now() - this.readAt >= TOKEN_FILE_PERIOD_MS) {
      try {
        this.token = readToken(this.path);
      } catch (error) {
        if (this.token === undefined)
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      this.readAt = this.now();
    }
    return Promise.resolve({ headers: { Authorization: `Bearer ${this.token ?? ''}` } });
  }

  invalidate(): void {
    this.readAt = -Infinity;
  }
}

/** A token file's token, trimmed as client-go does; empty is an error. */
export function readToken(path: string): string {
  const token = readMaterial(path, 'token file').toString('utf8').trim();
  if (token === '') throw new KubeconfigError(`token file ${path} is empty`);
  return token;
}

/** An exec plugin, resolved from the kubeconfig. */
export interface ExecConfig {
  readonly where: string;
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly installHint: string | undefined;
  /** The KUBERNETES_EXEC_INFO the plugin reads (built when it runs: it may read the CA file). */
  readonly info: () => string;
}

/**
 * Runs the plugin when nsync has no unexpired credential: once at start, again after its
 * expirationTimestamp or a 401. Without an expiry the credential is kept until a 401 (client-go).
 * Concurrent requests share one run.
 */
export class ExecCredentials implements CredentialSource {
  private readonly config: ExecConfig;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly now: () => number;
  private cached: { credential: Credential; expiresAt: number | undefined } | undefined;
  private running: Promise<Credential> | undefined;

  constructor(config: ExecConfig, env: Readonly<Record<string, string | undefined>>, now: () => number) {
    this.config = config;
    this.env = env;
    this.now = now;
  }

  current(): Promise<Credential> {
    const { cached } = this;
    if (cached !== undefined && (cached.expiresAt === undefined || this.now() < cached.expiresAt))
      return Promise.resolve(cached.credential);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async run(): Promise<Credential> {
    const { where, command, apiVersion } = this.config;
    const stdout = await runPlugin(this.config, {
      ...this.env,
      ...this.config.env,
      KUBERNETES_EXEC_INFO: this.config.info(),
    });
    let output: unknown;
    try {
      output = JSON.parse(stdout);
    } catch {
      throw new KubeconfigError(`${where}: "${command}" did not print an ExecCredential (not JSON)`);
    }
    if (!isObject(output) || output['kind'] !== 'ExecCredential')
      throw new KubeconfigError(`${where}: "${command}" did not print an ExecCredential`);
    if (output['apiVersion'] !== apiVersion)
      throw new KubeconfigError(`${where}: "${command}" answered with another apiVersion than ${apiVersion}`);
    const status = isObject(output['status']) ? output['status'] : {};
    const text = (key: string): string | undefined => {
      const value = status[key];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value !== 'string')
        throw new KubeconfigError(`${where}: "${command}" returned a status.${key} that is not a string`);
      return value;
    };
    const token = text('token');
    const cert = text('clientCertificateData');
    const key = text('clientKeyData');
    if ((cert === undefined) !== (key === undefined))
      throw new KubeconfigError(
        `${where}: "${command}" returned a client certificate without its key or the reverse`,
      );
    if (token === undefined && cert === undefined)
      throw new KubeconfigError(`${where}: "${command}" returned neither a token nor a client certificate`);
    const expiry = text('expirationTimestamp');
    const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
    if (expiresAt !== undefined && Number.isNaN(expiresAt))
      throw new KubeconfigError(`${where}: "${command}" returned an invalid expirationTimestamp`);
    const credential: Credential = {
      headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      // PEM text in the ExecCredential, unlike the base64 of kubeconfig *-data fields.
      ...(cert === undefined || key === undefined
        ? {}
        : { cert: Buffer.from(cert, 'utf8'), key: Buffer.from(key, 'utf8') }),
    };
    this.cached = { credential, expiresAt };
    return credential;
  }
}

/** Runs the plugin; its stderr is the operator's (kubectl passes it through too), stdout is ours. */
function runPlugin(config: ExecConfig, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const { where, command } = config;
  return new Promise((resolve, reject) => {
    const child = spawn(command, config.args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint = config.installHint === undefined ? '' : `\n\n${config.installHint}`;
      reject(
        new KubeconfigError(
          error.code === 'ENOENT'
            ? `${where}: command "${command}" not found${hint}`
            : `${where}: cannot run "${command}": ${error.code ?? error.message}`,
          // No cause: the spawn error carries the arguments, which can hold secrets.
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
      else
        reject(
          new KubeconfigError(
            `${where}: "${command}" failed (${code === null ? `signal ${String(signal)}` : `exit code ${String(code)}`})`,
          ),
        );
    });
  });
}

/** Reads a file the kubeconfig names; the error names it and what it is for, never its content. */
export function readMaterial(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KubeconfigError(`cannot read ${what} ${path}: ${code ?? 'error'}`, { cause: error });
  }
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
