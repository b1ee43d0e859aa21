/** The three sizes of the benchmark: smoke (CI, < 2 min), quick (default), full. */

/** Sizes of every scenario. */
export interface Profile {
  readonly name: 'smoke' | 'quick' | 'full';
  /** S1 fan-out and S5 API cost. */
  readonly fanout: {
    readonly namespaces: number;
    /** Interleaved floor + nsync rounds after the concurrency sweep. */
    readonly rounds: number;
    readonly concurrencies: readonly number[];
  };
  /** S2 latency. */
  readonly latency: {
    readonly namespaces: number;
    readonly updates: number;
    readonly newNamespaces: number;
  };
  /**
   * S6: local fan-out and update latency with no remote cluster, one up, one down and one
   * blackholed; rounds interleave the four set-ups (an even count keeps the ABBA order balanced).
   */
  readonly remote: {
    readonly namespaces: number;
    readonly rounds: number;
    /**
     * Further changes of the fan-out source per set-up and round, each timed like S1's update
     * (pooled over the rounds: one fan-out per round is too few samples on a loaded machine).
     */
    readonly fanoutUpdates: number;
    /** Successive source updates per set-up and round (pooled for p50/p95). */
    readonly updates: number;
    /** Mirrors of the latency source. */
    readonly latencyNamespaces: number;
  };
  /** S3 idle and restart, S4 memory. */
  readonly idle: {
    readonly namespaces: number;
    readonly secretSources: number;
    readonly configMapSources: number;
    readonly idleSeconds: number;
    readonly unrelatedSecrets: number;
    readonly unrelatedKiB: number;
    /**
     * S4: unrelated Roles and as many RoleBindings (nsync watches both kinds in S3/S4): their
     * metadata-only caches must keep memory flat (docs/adr/0017).
     */
    readonly unrelatedRbac: number;
    /** S3: ClusterMirrors present (each pushes a source into one namespace); their status writes are counted. */
    readonly resources: number;
    /** S4: memory samples (one a second) after a process is ready and idle. */
    readonly memorySamples: number;
    /** S3: --resync-period of the forced-resync window (three resyncs are watched). */
    readonly resyncSeconds: number;
  };
}

const CONCURRENCIES = [8, 16, 32, 64] as const;

export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  smoke: {
    name: 'smoke',
    fanout: { namespaces: 20, rounds: 1, concurrencies: CONCURRENCIES },
    latency: { namespaces: 20, updates: 20, newNamespaces: 5 },
    remote: { namespaces: 10, rounds: 2, fanoutUpdates: 2, updates: 5, latencyNamespaces: 5 },
    idle: {
      namespaces: 10,
      secretSources: 10,
      configMapSources: 10,
      idleSeconds: 5,
      unrelatedSecrets: 20,
      unrelatedKiB: 256,
      unrelatedRbac: 20,
      resources: 10,
      memorySamples: 3,
      resyncSeconds: 2,
    },
  },
  quick: {
    name: 'quick',
    fanout: { namespaces: 200, rounds: 5, concurrencies: CONCURRENCIES },
    latency: { namespaces: 20, updates: 50, newNamespaces: 20 },
    remote: { namespaces: 200, rounds: 6, fanoutUpdates: 5, updates: 20, latencyNamespaces: 20 },
    idle: {
      namespaces: 100,
      secretSources: 10,
      configMapSources: 10,
      idleSeconds: 20,
      unrelatedSecrets: 500,
      unrelatedKiB: 256,
      unrelatedRbac: 1000,
      resources: 100,
      memorySamples: 10,
      resyncSeconds: 5,
    },
  },
  full: {
    name: 'full',
    fanout: { namespaces: 1000, rounds: 9, concurrencies: CONCURRENCIES },
    latency: { namespaces: 20, updates: 200, newNamespaces: 20 },
    remote: { namespaces: 1000, rounds: 10, fanoutUpdates: 5, updates: 30, latencyNamespaces: 20 },
    idle: {
      namespaces: 1000,
      secretSources: 10,
      configMapSources: 10,
      idleSeconds: 60,
      unrelatedSecrets: 2000,
      unrelatedKiB: 256,
      unrelatedRbac: 3000,
      resources: 100,
      memorySamples: 15,
      resyncSeconds: 10,
    },
  },
};
