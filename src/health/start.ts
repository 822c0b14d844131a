// The daemon's health checker (socket probes from the host) and passive health (the data
// plane's refusal counters), transitions applied through the Controller (atomic: data plane,
// state file, memory).
import type { Controller } from '../daemon/controller.js';
import type { DataplaneStats } from '../dataplane/types.js';
import { setServerHealth, setServerPassiveDown } from '../model/index.js';
import { HealthChecker } from './checker.js';
import { PassiveWatcher, refusalsOf } from './passive.js';
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

export function startPassiveHealth(controller: Controller, stats: () => Pick<DataplaneStats, 'servers'>): PassiveWatcher {
  const watcher = new PassiveWatcher({
    state: () => controller.state,
    refusals: () => {
      try {
        return refusalsOf(stats().servers);
      } catch {
        return undefined;  // data plane stopping
      }
    },
    apply: async ({ service, serverId, down }) => {
      await controller.mutate((current) => setServerPassiveDown(current, service, serverId, down));
    },
  });
  watcher.start();
  return watcher;
}
