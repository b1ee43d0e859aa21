/** What every scenario gets: its sizes, where logs go, how to report progress. */
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';
import { adminCredentials, KubeClient } from './kube.ts';
import type { Runtime } from './nsync.ts';
import type { Profile } from './profiles.ts';

/** A scenario's environment. */
export interface Context {
  readonly profile: Profile;
  /** Directory kept after the run: nsync logs. */
  readonly logDir: string;
  /** nsync compiled as the container image runs it (S4 measures both runtimes). */
  readonly compiled: Runtime;
  /** Extra `nsync run` flags for every nsync the run starts (`--nsync-arg`), e.g. to compare settings. */
  readonly nsyncArgs: readonly string[];
  /** A progress line on stderr. */
  say(message: string): void;
}

/** A fresh control plane (no kube-controller-manager: nothing here deletes namespaces) and an admin client. */
export async function freshCluster(): Promise<{ cp: ControlPlane; admin: KubeClient; kubernetes: string }> {
  const cp = await startControlPlane({ controllerManager: false });
  const admin = new KubeClient(adminCredentials(cp.info()), { maxSockets: 16 });
  const version = await admin.ok<{ gitVersion?: string }>('GET', '/version');
  return { cp, admin, kubernetes: version.gitVersion ?? 'unknown' };
}

/** Milliseconds with one decimal. */
export function ms(value: number): number {
  return Math.round(value * 10) / 10;
}
