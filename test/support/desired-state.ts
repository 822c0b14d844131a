// The desired state tests start from: two ring ports, no routes, no services, IPVS's timeouts.
import { DEFAULT_TIMEOUTS, type DesiredState } from '../../src/model/index.js';

export function ringPortsState(): DesiredState {
  return {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
}

/** The same with a default route out of the inside port (servers anywhere are reachable). */
export function ringPortsStateRouted(): DesiredState {
  return { ...ringPortsState(), routes: [{ prefix: '0.0.0.0/0', port: 'inside' }] };
}
