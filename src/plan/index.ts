/**
 * The planner's public surface: reconcile and the CLI import from here, so the files behind it can
 * be rearranged without touching them.
 */
export type * from './model.ts';
export { canonicalJson, CONTENT_HASH_DOMAIN, contentHash } from './hash.ts';
export type { CanonicalValue, HashableContent } from './hash.ts';
export {
  contentKeys,
  formatKeyList,
  formatRef,
  isValidLabelValue,
  isVolatileMarker,
  mirrorStaleness,
  parseKeyList,
  previouslyCopiedKeys,
  pullStaleness,
  renderMirror,
  renderPullPatch,
  selectContent,
  VOLATILE_MARKERS,
} from './render.ts';
export type { MirrorInput, PullInput, RenderedMirror, RenderedPull } from './render.ts';
export { DIALECT_PRECEDENCE, plan, pushRulesByName } from './plan.ts';
export { EXPLAIN_COLUMNS, formatExplain } from './explain.ts';
