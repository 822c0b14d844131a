// The model's public surface: import from here, not from the individual files.
export * from './errors.js';
export * from './types.js';
export * from './validate.js';
export * from './scheduling.js';
export * from './check.js';
export * from './ops.js';
export * from './snapshot.js';
export * from './health-check.js';
export { allocateIds } from './ids.js';
export * from './fields.js';
export * from './defense.js';
export * from './defense-persist.js';
export { buildDefenseConfig, effectiveSynproxy } from './defense-snapshot.js';
