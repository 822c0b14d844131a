// The machine a bench run came from, stored with its results (a figure means little
// without it). The TSC frequency is the one DPDK itself uses: read from a short-lived
// child process, because DPDK's EAL starts once per process and the pipeline bench
// needs to start it here with its own arguments.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { MachineInfo } from './report.js';

const PROBE_TIMEOUT_MS = 30_000;

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: PROBE_TIMEOUT_MS }, (error, stdout) => resolve(error ? '' : String(stdout).trim()));
  });
}

function cpuModel(): string {
  const fromProc = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1];
  return (fromProc ?? cpus()[0]?.model ?? 'unknown CPU').trim();
}

/** Starts the addon in test mode in a child process and prints stats().tscHz; 0 if that fails. */
async function dpdkTscHz(addonModuleUrl: string): Promise<number> {
  const script = `
    const { loadDataplane } = await import(${JSON.stringify(addonModuleUrl)});
    const dp = loadDataplane();
    dp.start({ mode: 'test', eal: ['-l', '0', '--no-huge', '-m', '256', '--no-pci', '--no-shconf', '--no-telemetry', '--log-level=lib.eal:error'],
      workers: 1, polling: 'busy', connCapacity: 1024, ports: [{ name: 'probe', device: 'ring' }] });
    console.log(dp.stats().tscHz);
    dp.stop();`;
  const out = await run(process.execPath, ['--input-type=module', '-e', script]);
  const hz = Number(out.split('\n').pop());
  return Number.isFinite(hz) && hz > 0 ? hz : 0;
}

export async function machineInfo(): Promise<MachineInfo> {
  const fromSource = import.meta.url.endsWith('.ts');
  // From source (tsx) the child cannot import .ts, so it loads the built module.
  const addonModule = new URL(fromSource ? '../dist/src/dataplane/addon.js' : '../src/dataplane/addon.js', import.meta.url);
  const [tscHz, dpdkVersion] = await Promise.all([
    dpdkTscHz(pathToFileURL(addonModule.pathname).href),
    run('pkg-config', ['--modversion', 'libdpdk']),
  ]);
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    kernel: release(),
    tscHz,
    dpdkVersion: dpdkVersion || 'unknown',
    node: process.versions.node,
  };
}
