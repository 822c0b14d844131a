// The whole desired state, and what every change to it returns. Vocabulary: the services
// (types.ts) and the flood defences (mitigation-types.ts) meet here.
import type { Mitigation } from './mitigation-types.js';
import type { PortModel, Route, Service, Timeouts } from './types.js';

export interface DesiredState {
  ports: PortModel[];
  routes: Route[];
  defaultTimeouts: Timeouts;
  services: Service[];
  /** Where the next id search starts, so a freed id is not handed out again at once. */
  nextServiceId: number;
  nextServerId: number;
  /**
   * Counts configuration changes (services and routes, config-diff.ts): the controller adds one
   * with each committed change that has a diff. Absent = 1 (a state no change has been counted in).
   */
  generation?: number;
  /** Flood defences (defense.ts changes them); absent = none. */
  mitigations?: Mitigation[];
}

/** A change: the new state (the old one is never modified), what it made, and what looks wrong but works. */
export interface ChangeResult<T> {
  state: DesiredState;
  result: T;
  warnings: string[];
}
