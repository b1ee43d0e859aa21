/**
 * The two floors behind one interface: a phase's objects are handed over untimed, then sent all
 * at once at a given concurrency. Used by S1 (fan-out) and the scale profile.
 */
import type { GoFloor } from './floor-go.ts';
import { pool, type KubeClient } from './kube.ts';

/** Which floor: the minimal Node HTTP/1.1 client, or client-go over HTTP/2. */
export type FloorKind = 'node' | 'go';

const FIELD_MANAGER = '?fieldManager=bench-floor';

/** A floor's writer: takes a phase's objects untimed, then sends them all when told. */
export interface FloorWriter {
  readonly kind: FloorKind;
  prepare(verb: 'create' | 'update', bodies: readonly string[]): Promise<void>;
  /** Sends the prepared writes, at most `concurrency` at a time; resolves with resourceVersions. */
  run(concurrency: number): Promise<readonly string[]>;
}

/** The Node floor: one keep-alive HTTPS agent, requests as the API server documents them. */
export class NodeFloorWriter implements FloorWriter {
  readonly kind = 'node';
  private readonly client: KubeClient;
  private verb: 'create' | 'update' = 'create';
  private bodies: readonly string[] = [];
  private paths: readonly string[] = [];

  constructor(client: KubeClient) {
    this.client = client;
  }

  prepare(verb: 'create' | 'update', bodies: readonly string[]): Promise<void> {
    this.verb = verb;
    this.bodies = bodies;
    this.paths = bodies.map((body) => {
      const { namespace, name } = (JSON.parse(body) as { metadata: { namespace: string; name: string } })
        .metadata;
      return verb === 'create'
        ? `/api/v1/namespaces/${namespace}/secrets${FIELD_MANAGER}`
        : `/api/v1/namespaces/${namespace}/secrets/${name}${FIELD_MANAGER}`;
    });
    return Promise.resolve();
  }

  async run(concurrency: number): Promise<readonly string[]> {
    const versions: string[] = [];
    const create = this.verb === 'create';
    await pool(this.bodies.length, concurrency, async (i) => {
      const answer = await this.client.call<{ metadata: { resourceVersion: string } }>(
        create ? 'POST' : 'PUT',
        this.paths[i] ?? '',
        this.bodies[i],
      );
      if (answer.status !== (create ? 201 : 200))
        throw new Error(`floor ${this.verb}: ${String(answer.status)}`);
      versions[i] = answer.body.metadata.resourceVersion;
    });
    return versions;
  }
}

/** The client-go floor (bench/floor-go) as a FloorWriter. */
export class GoFloorWriter implements FloorWriter {
  readonly kind = 'go';
  readonly floor: GoFloor;

  constructor(floor: GoFloor) {
    this.floor = floor;
  }

  prepare(verb: 'create' | 'update', bodies: readonly string[]): Promise<void> {
    return this.floor.prepare(verb, bodies);
  }

  run(concurrency: number): Promise<readonly string[]> {
    return this.floor.run(concurrency);
  }
}
