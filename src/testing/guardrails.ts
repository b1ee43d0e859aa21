/**
 * The guardrails added for the target namespace's trust boundary, at their defaults (the same
 * as `nsync run` without flags), for tests that build Guardrails by hand.
 */
import { DEFAULT_FAN_OUT_BUDGET } from '../plan/budget.ts';
import { DEFAULT_CONTEST_LIMITS } from '../plan/contest.ts';
import type { Guardrails } from '../plan/model.ts';
import { DEFAULT_COPY_POLICY } from '../rules/copy-policy.ts';

export const BOUNDARY_DEFAULTS: Pick<
  Guardrails,
  'targetConsent' | 'isProtected' | 'copyPolicy' | 'contest' | 'budget' | 'isRbacSource'
> = {
  isRbacSource: () => false,
  targetConsent: false,
  isProtected: () => false,
  copyPolicy: DEFAULT_COPY_POLICY,
  contest: DEFAULT_CONTEST_LIMITS,
  budget: DEFAULT_FAN_OUT_BUDGET,
};
