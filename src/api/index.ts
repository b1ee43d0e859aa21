/**
 * The public face of api/: the nsync.dev/v1alpha1 types, the converter into the rule model and
 * the status helpers. Pure, like rules/ and plan/.
 */
export * from './types.ts';
export * from './convert.ts';
export * from './status.ts';
