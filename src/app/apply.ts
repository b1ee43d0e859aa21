/**
 * Carries out a plan's writes. Each write is exact: creates fail on an existing object, replaces
 * and patches carry the resourceVersion seen, deletes carry uid and resourceVersion. A replace
 * the API refuses because a field is immutable (a Secret type change, an immutable mirror) is
 * done as delete-then-create — only ever on an object nsync owns.
 */
import { ApiError, classify } from '../kube/errors.ts';
import type { RawObject, Resource } from '../kube/resources.ts';
import type { Writer } from '../kube/writer.ts';
import type { MirrorBody, ObjectMeta, WriteOp } from '../plan/model.ts';
import type { Kind } from '../rules/model.ts';
import type { Store } from '../runtime/store.ts';
import type { Limiter } from '../runtime/limit.ts';
import { RESOURCES, type ObjectIndex } from './cache.ts';
import type { Metrics } from './metrics.ts';
import { objectKey, toObjectMeta } from './objects.ts';

/** What apply needs. */
export interface ApplyDeps {
  readonly writer: Writer;
  readonly limiter: Limiter;
  readonly metrics: Pick<Metrics, 'countWrite'>;
  readonly stores: Readonly<Record<Kind, Store<ObjectMeta, ObjectIndex>>>;
}

/** One failed write, with the op it belonged to. */
export interface WriteFailure {
  readonly op: WriteOp;
  readonly error: unknown;
}

/**
 * Whether the API refused a replace because a field cannot change: a Secret's type, an immutable
 * Secret or ConfigMap, a RoleBinding's roleRef ("cannot change roleRef").
 */
function isImmutableRefusal(error: unknown): boolean {
  return (
    classify(error) === 'invalid' &&
    error instanceof ApiError &&
    /immutable|cannot change roleRef/i.test(error.message)
  );
}

/**
 * A replace of a ServiceAccount is a merge patch of what nsync owns (its metadata and
 * imagePullSecrets): its `secrets` and `automountServiceAccountToken` belong to others (users,
 * the token controller) and a PUT would wipe them. The body's resourceVersion stays the
 * precondition.
 */
async function replaceServiceAccount(
  writer: Writer,
  resource: Resource,
  namespace: string,
  name: string,
  body: MirrorBody,
): Promise<RawObject> {
  const { apiVersion: _apiVersion, kind: _kind, ...patch } = body;
  return writer.mergePatch(resource, namespace, name, patch);
}

/**
 * Runs every op (bounded concurrency) and returns the failures; successes update the cache at
 * once, so the next reconcile sees its own writes even before the watch delivers them.
 */
export async function applyOps(deps: ApplyDeps, ops: readonly WriteOp[]): Promise<WriteFailure[]> {
  const failures: WriteFailure[] = [];
  await Promise.all(
    ops.map((op) =>
      deps.limiter.run(async () => {
        try {
          await applyOne(deps, op);
        } catch (error) {
          failures.push({ op, error });
        }
      }),
    ),
  );
  return failures;
}

async function applyOne(deps: ApplyDeps, op: WriteOp): Promise<void> {
  const { writer, metrics, stores } = deps;
  const { kind, namespace, name } = op.target;
  const resource = RESOURCES[kind];
  const store = stores[kind];
  const remember = (raw: RawObject): void => {
    store.upsert(toObjectMeta(kind, raw));
  };
  const count = async <T>(verb: string, write: () => Promise<T>): Promise<T> => {
    try {
      const result = await write();
      metrics.countWrite(verb, 'success');
      return result;
    } catch (error) {
      metrics.countWrite(verb, classify(error));
      throw error;
    }
  };
  switch (op.verb) {
    case 'create':
      remember(await count('create', () => writer.create(resource, namespace, op.body)));
      return;
    case 'replace':
      try {
        remember(
          await count('replace', () =>
            kind === 'ServiceAccount'
              ? replaceServiceAccount(writer, resource, namespace, name, op.body)
              : writer.replace(resource, namespace, name, op.body),
          ),
        );
      } catch (error) {
        if (!isImmutableRefusal(error)) throw error;
        await count('recreate', async () => {
          await writer.delete(resource, namespace, name, { uid: op.uid });
          store.delete(objectKey(namespace, name));
          const { resourceVersion: _stale, ...metadata } = op.body.metadata;
          remember(await writer.create(resource, namespace, { ...op.body, metadata }));
        });
      }
      return;
    case 'patch':
      remember(await count('patch', () => writer.mergePatch(resource, namespace, name, op.patch)));
      return;
    case 'delete':
      try {
        await count('delete', () =>
          writer.delete(resource, namespace, name, { uid: op.uid, resourceVersion: op.resourceVersion }),
        );
      } catch (error) {
        if (classify(error) !== 'not-found') throw error;
      }
      store.delete(objectKey(namespace, name));
      return;
  }
}
