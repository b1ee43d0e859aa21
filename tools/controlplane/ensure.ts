/**
 * Builds the control-plane binaries before the integration tests start, so a cold build (minutes,
 * once per machine) is reported on its own and never counted against a test's deadline.
 */
import { controlPlaneBinaries } from './harness.ts';

const started = performance.now();
const dir = controlPlaneBinaries();
console.log(`control plane binaries: ${dir} (${Math.round(performance.now() - started)} ms)`);
