/**
 * The writes nsync makes, in API terms: create, replace, merge-patch and delete with
 * preconditions. Every write names nsync as field manager and sets managedFields to one nsync
 * entry owning exactly the content keys it wrote, so that any later entry of another manager on
 * the content proves someone else changed it — how tampering is seen without reading mirror data
 * (docs/adr/0004). Clearing managedFields instead would stop the server tracking later edits.
 */
import type { Transport } from './transport.ts';
import {
  collectionPath,
  METADATA_WATCH_ACCEPT,
  METADATA_WRITE_ACCEPT,
  objectPath,
  type RawObject,
  type Resource,
} from './resources.ts';

/** The field manager nsync writes with. */
export const FIELD_MANAGER = 'nsync';

const query = `?fieldManager=${FIELD_MANAGER}`;

type ContentMap = Readonly<Record<string, string | null>> | undefined;

/**
 * The structured content fields of Roles, RoleBindings and ServiceAccounts: owned by nsync as a
 * whole when a write sets them.
 */
const STRUCTURED_FIELDS = ['rules', 'subjects', 'roleRef', 'imagePullSecrets'] as const;

/** managedFields naming nsync the owner of the content keys a write sets (null = removed). */
export function ownedManagedFields(
  content: { data?: ContentMap; binaryData?: ContentMap } & { readonly [field: string]: unknown },
  apiVersion = 'v1',
): object[] {
  const fields = (map: ContentMap): Record<string, object> =>
    Object.fromEntries(
      Object.entries(map ?? {})
        .filter(([, value]) => value !== null)
        .map(([key]) => [`f:${key}`, {}]),
    );
  const fieldsV1: Record<string, object> = {};
  const data = fields(content.data);
  const binaryData = fields(content.binaryData);
  if (Object.keys(data).length > 0) fieldsV1['f:data'] = data;
  if (Object.keys(binaryData).length > 0) fieldsV1['f:binaryData'] = binaryData;
  for (const field of STRUCTURED_FIELDS) if (content[field] !== undefined) fieldsV1[`f:${field}`] = {};
  return [{ manager: FIELD_MANAGER, operation: 'Update', apiVersion, fieldsType: 'FieldsV1', fieldsV1 }];
}

/** Object writes against one API server. */
export class Writer {
  private readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** The answers of create, replace and mergePatch hold the object's metadata only (no data). */
  async create(resource: Resource, namespace: string, body: object): Promise<RawObject> {
    const { body: created } = await this.transport.json<RawObject>({
      method: 'POST',
      path: collectionPath(resource, namespace) + query,
      body,
      accept: METADATA_WRITE_ACCEPT,
    });
    return created;
  }

  /** PUT with the body's resourceVersion as precondition (409 when someone wrote in between). */
  async replace(
    resource: Resource,
    namespace: string,
    name: string,
    body: { metadata: object; data?: ContentMap; binaryData?: ContentMap },
  ): Promise<RawObject> {
    const { body: replaced } = await this.transport.json<RawObject>({
      method: 'PUT',
      path: objectPath(resource, namespace, name) + query,
      body: {
        ...body,
        metadata: { ...body.metadata, managedFields: ownedManagedFields(body, resource.apiVersion) },
      },
      accept: METADATA_WRITE_ACCEPT,
    });
    return replaced;
  }

  /** JSON merge patch; the patch's metadata.resourceVersion, when set, is a precondition. */
  async mergePatch(
    resource: Resource,
    namespace: string,
    name: string,
    patch: { metadata: object; data?: ContentMap; binaryData?: ContentMap },
  ): Promise<RawObject> {
    const { body: patched } = await this.transport.json<RawObject>({
      method: 'PATCH',
      path: objectPath(resource, namespace, name) + query,
      body: {
        ...patch,
        metadata: { ...patch.metadata, managedFields: ownedManagedFields(patch, resource.apiVersion) },
      },
      contentType: 'application/merge-patch+json',
      accept: METADATA_WRITE_ACCEPT,
    });
    return patched;
  }

  /** JSON merge patch of an object's status subresource (nsync's own resources). */
  async patchStatus(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    status: object,
  ): Promise<void> {
    await this.transport.json({
      method: 'PATCH',
      path: `${objectPath(resource, namespace, name)}/status${query}`,
      body: { status },
      contentType: 'application/merge-patch+json',
      accept: METADATA_WRITE_ACCEPT,
    });
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

  /**
   * Full object read: of sources, and of a pull target before nsync first writes a key into it
   * (which keys it holds of its own). nsync never reads a push mirror's data.
   */
  /**
   * One object's metadata only (PartialObjectMetadata): what an ownership check needs, with no
   * data crossing the wire — the object may be somebody else's Secret.
   */
  async getMeta(resource: Resource, namespace: string, name: string): Promise<RawObject> {
    const { body } = await this.transport.json<RawObject>({
      method: 'GET',
      path: objectPath(resource, namespace, name),
      accept: METADATA_WATCH_ACCEPT,
    });
    return body;
  }

  async get(resource: Resource, namespace: string, name: string): Promise<RawObject> {
    const { body } = await this.transport.json<RawObject>({
      method: 'GET',
      path: objectPath(resource, namespace, name),
    });
    return body;
  }
}
