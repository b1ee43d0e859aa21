/**
 * The public face of rules/: everything the planner, the triggers and the CLI may use. Import from
 * here rather than from the modules, so rules/ can be reorganised without touching its callers.
 */
export type * from './model.ts';
export { formatOrigin } from './model.ts';
export * from './markers.ts';
export * from './filter.ts';
export * from './clusters.ts';
export * from './result.ts';
export * from './names.ts';
export * from './patterns.ts';
export * from './selectors.ts';
export * from './bool.ts';
export * from './parse.ts';
export type {
  DialectAdapter,
  DialectTargetResult,
  SourceContext,
  TargetContext,
} from './dialects/adapter.ts';
export { nativeDialect, parseKeyList, REQUIRED_SECRET_KEYS } from './dialects/native.ts';
export { reflectorDialect } from './dialects/reflector.ts';
export { replicatorDialect } from './dialects/replicator.ts';
export { kubedDialect } from './dialects/kubed.ts';
