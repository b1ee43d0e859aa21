/**
 * One shared control plane for the whole integration run (node --test-global-setup): starting
 * kube-apiserver costs seconds, so test files share it and isolate themselves by namespace.
 * Tests that restart the API server start a private one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';

let controlPlane: ControlPlane | undefined;

export async function globalSetup(): Promise<void> {
  controlPlane = await startControlPlane();
  const infoFile = join(controlPlane.dir, 'cluster.json');
  writeFileSync(infoFile, JSON.stringify(controlPlane.info()));
  process.env['NSYNC_TEST_CLUSTER'] = infoFile;
}

export async function globalTeardown(): Promise<void> {
  await controlPlane?.stop();
}
