/**
 * The writes nsync makes, in API terms: create, replace, merge-patch and delete with
 * preconditions. Every write names nsync as field manager and resets managedFields, so that any
 * later managedFields entry of another manager on the content proves someone else changed it
 * (how tampering is seen without reading mirror data).
 */
import type { Transport } from './transport.ts';
import { objectPath, collectionPath, type RawObject, type Resource } from './resources.ts';

/** The field manager nsync writes with. */
export const FIELD_MANAGER = 'nsync';

const query = `?fieldManager=${FIELD_MANAGER}`;

/** Object writes against one API server. */
export class Writer {
  private readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  async create(resource: Resource, namespace: string, body: object): Promise<RawObject> {
    const { body: created } = await this.transport.json<RawObject>({
      method: 'POST',
      path: collectionPath(resource, namespace) + query,
      body,
    });
    return created;
  }

  /** PUT with the body's resourceVersion as precondition (409 when someone wrote in between). */
  async replace(
    resource: Resource,
    namespace: string,
    name: string,
    body: { metadata: object },
  ): Promise<RawObject> {
    const { body: replaced } = await this.transport.json<RawObject>({
      method: 'PUT',
      path: objectPath(resource, namespace, name) + query,
      body: { ...body, metadata: { ...body.metadata, managedFields: [{}] } },
    });
    return replaced;
  }

  /** JSON merge patch; the patch's metadata.resourceVersion, when set, is a precondition. */
  async mergePatch(
    resource: Resource,
    namespace: string,
    name: string,
    patch: { metadata: object },
  ): Promise<RawObject> {
    const { body: patched } = await this.transport.json<RawObject>({
      method: 'PATCH',
      path: objectPath(resource, namespace, name) + query,
      body: { ...patch, metadata: { ...patch.metadata, managedFields: [{}] } },
      contentType: 'application/merge-patch+json',
    });
    return patched;
  }

  /** Delete only the exact object that was planned (uid, and resourceVersion when given). */
  async delete(
    resource: Resource,
    namespace: string,
    name: string,
    preconditions: { uid: string; resourceVersion?: string },
  ): Promise<void> {
    await this.transport.json({
      method: 'DELETE',
      path: objectPath(resource, namespace, name),
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions },
    });
  }

  /** Full object read (sources only: nsync never reads a mirror's data). */
  async get(resource: Resource, namespace: string, name: string): Promise<RawObject> {
    const { body } = await this.transport.json<RawObject>({
      method: 'GET',
      path: objectPath(resource, namespace, name),
    });
    return body;
  }
}
