// The cluster module's public surface: layout types, computing and comparing epochs, lookups, encoding.
export * from './types.js';
export { emptyLayout, computeLayout, partitionOf, targetsFor, partitionTargets, targetShares } from './layout.js';
export { diffLayouts, type LayoutDiff, type TargetMovement } from './diff.js';
export { encodeLayout, decodeLayout } from './encoding.js';
