// The model's public surface: import from here, not from the individual files.
// Layers, bottom up (a file imports only from its own layer or below; test/unit/import-circles.test.ts
// refuses any circle):
//   vocabulary  errors, ip-address, fields, types, health-check-types, passive-health-types, mitigation-types, desired-state
//   readers     validate, scheduling, health-check-fields, passive-health-fields, service-raw, defense-fields, defense-persist, ids, synproxy-mode, check-quic
//   operations  check, check-forwarding, config-diff, ops, route-ops
//   on top      defense (mitigation changes), health-check (health verdicts), apply-state (ApplyState), snapshots
export * from './errors.js';
export * from './fields.js';
export * from './ip-address.js';
export * from './types.js';
export * from './health-check-types.js';
export * from './passive-health-types.js';
export * from './mitigation-types.js';
export * from './desired-state.js';
export * from './validate.js';
export * from './scheduling.js';
export * from './health-check-fields.js';
export * from './passive-health-fields.js';
export * from './service-raw.js';
export * from './defense-fields.js';
export * from './defense-persist.js';
export { allocateIds } from './ids.js';
export * from './synproxy-mode.js';
export * from './check.js';
export * from './ops.js';
export * from './route-ops.js';
export * from './config-diff.js';
export * from './apply-state.js';
export * from './defense.js';
export * from './health-check.js';
export * from './snapshot.js';
export { buildDefenseConfig } from './defense-snapshot.js';
