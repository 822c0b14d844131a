// Port link state, polled once a second off the packet path: the ethdev's own status
// (rte_eth_link_get_nowait, through stats()) AND, for ports backed by a kernel interface
// (af_packet, af_xdp, tap: "iface=NAME" in the device string), that interface's operstate —
// af_packet keeps reporting "up" while the veth or NIC under it is down. Every change is
// logged and counted per port; GetStats and /metrics show the state and the count.
import { readFileSync } from 'node:fs';
import type { PortStats } from '../dataplane/types.js';
import { log } from '../log.js';
import type { PortModel } from '../model/index.js';

const POLL_MS = 1000;

export interface LinkState { up: boolean; changes: number }

/** "net_af_packet0,iface=pc-gw-in" → "pc-gw-in"; undefined for devices without a kernel interface. */
export function kernelInterface(device: string): string | undefined {
  return /(?:^|,)iface=([^,]+)/.exec(device)?.[1];
}

/** operstate "up", or "unknown" (tun/tap devices without carrier reporting) count as up. */
export function readOperstate(iface: string): boolean | undefined {
  try {
    const state = readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();
    return state === 'up' || state === 'unknown';
  } catch {
    return undefined;  // not visible from here (another namespace): trust the ethdev
  }
}

export class LinkMonitor {
  private readonly states = new Map<string, LinkState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ports: Pick<PortModel, 'name' | 'device'>[],
    private readonly portStats: () => PortStats[],
    private readonly operstate: (iface: string) => boolean | undefined = readOperstate,
  ) {}

  start(): void {
    if (this.timer) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One poll; the first one only records (the start-up line already says which ports run). */
  poll(): void {
    let stats: PortStats[];
    try {
      stats = this.portStats();
    } catch {
      return;  // data plane stopping
    }
    for (const port of this.ports) {
      const ethdevUp = stats.find((s) => s.name === port.name)?.linkUp ?? true;
      const iface = kernelInterface(port.device);
      const up = ethdevUp && (iface === undefined || this.operstate(iface) !== false);
      const last = this.states.get(port.name);
      if (!last) {
        this.states.set(port.name, { up, changes: 0 });
        if (!up) log.warn(`port ${port.name}: link down at start${iface ? ` (${iface})` : ''}`);
        continue;
      }
      if (last.up === up) continue;
      last.up = up;
      last.changes++;
      const message = `port ${port.name}: link ${up ? 'up' : 'down'}${iface ? ` (${iface})` : ''}; change ${last.changes}`;
      if (up) log.info(message);
      else log.warn(`${message}; what it cannot send is counted (port tx errors, drop reason tx_full) until it is back`);
    }
  }

  state(name: string): LinkState | undefined {
    return this.states.get(name);
  }
}
