/**
 * What each remote pipeline last found for each ClusterMirror and Mirror that selects its cluster
 * (docs/adr/0022). The remote pipelines write here; the local reconcile of the source reads it
 * into the resource's `status.clusters`, since one status has one writer. A change is reported
 * (so the source is reconciled locally and the status written); an unchanged entry is not, so an
 * idle fleet causes no status write.
 */
import type { ClusterStatusV1 } from '../../api/types.ts';

/** Remote cluster statuses by resource key (`ClusterMirror/<name>`, `Mirror/<ns>/<name>`). */
export class ClusterStatuses {
  private readonly byResource = new Map<string, Map<string, ClusterStatusV1>>();

  /** Records one cluster's status of a resource; true when it differs from what was there. */
  set(resource: string, status: ClusterStatusV1): boolean {
    let clusters = this.byResource.get(resource);
    if (clusters === undefined) {
      clusters = new Map();
      this.byResource.set(resource, clusters);
    }
    const before = clusters.get(status.name);
    clusters.set(status.name, status);
    return before === undefined || JSON.stringify(before) !== JSON.stringify(status);
  }

  /** Forgets one cluster's status of a resource (it no longer selects the cluster); true when there was one. */
  delete(resource: string, cluster: string): boolean {
    const clusters = this.byResource.get(resource);
    const had = clusters?.delete(cluster) ?? false;
    if (clusters?.size === 0) this.byResource.delete(resource);
    return had;
  }

  /** Forgets a deleted resource. */
  forgetResource(resource: string): void {
    this.byResource.delete(resource);
  }

  /**
   * Forgets a cluster that is gone (a registration deleted); returns the resources that listed
   * it, whose status must be written again.
   */
  forgetCluster(cluster: string): string[] {
    const touched: string[] = [];
    for (const [resource, clusters] of this.byResource) {
      if (clusters.delete(cluster)) touched.push(resource);
      if (clusters.size === 0) this.byResource.delete(resource);
    }
    return touched;
  }

  /** The statuses of a resource in every remote cluster that reported one. */
  of(resource: string): ClusterStatusV1[] {
    return [...(this.byResource.get(resource)?.values() ?? [])];
  }
}
