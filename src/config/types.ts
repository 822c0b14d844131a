// The daemon's configuration file, parsed and validated.
import type { PortModel, Route, ServiceSpec, Timeouts } from '../model/index.js';

export type HugepagesMode = 'auto' | 'on' | 'off';

export interface DataplaneSettings {
  workers: number;
  /** EAL -l value; default "0-<workers>". */
  lcores: string;
  polling: 'busy' | 'adaptive';
  memoryMb: number;
  hugepages: HugepagesMode;
  /** Connections per worker. */
  connCapacity: number;
}

export interface ApiSettings {
  /** Unix socket path. */
  socket: string;
  /** Optional "host:port" for plaintext TCP; '' = off. */
  listen: string;
}

export interface DaemonConfig {
  /** Where the config came from (for messages). */
  source: string;
  dataplane: DataplaneSettings;
  api: ApiSettings;
  stateFile: string;
  ports: PortModel[];
  routes: Route[];
  timeouts: Timeouts;
  /** Seed services: used only when there is no state file yet (or --reset-state). */
  services: ServiceSpec[];
}

export const DEFAULT_SOCKET = '/run/portcullis/portcullis.sock';
export const DEFAULT_STATE_FILE = '/var/lib/portcullis/state.json';
