// The daemon's health checker: socket probes from the host, transitions applied
// through the Controller (atomic: data plane, state file, memory).
import type { Controller } from '../daemon/controller.js';
import { setServerHealth } from '../model/index.js';
import { HealthChecker } from './checker.js';
import { socketProber } from './probe.js';

export function startHealthChecks(controller: Controller): HealthChecker {
  const checker = new HealthChecker({
    prober: socketProber,
    state: () => controller.state,
    apply: async ({ service, serverId, state }) => {
      await controller.mutate((current) => setServerHealth(current, service, serverId, state === 'down'));
    },
  });
  checker.start();
  return checker;
}
