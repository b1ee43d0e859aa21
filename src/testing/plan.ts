/** An empty plan with some fields set, for tests of what is made of plans (explain, JSON). */
import type { Plan } from '../plan/model.ts';

export function planOf(overrides: Partial<Plan> = {}): Plan {
  return {
    decisions: [],
    ops: [],
    readsFirst: [],
    sourceProblems: [],
    droppedKeys: [],
    outranked: [],
    targetProblems: [],
    ...overrides,
  };
}
