/**
 * Machine, runtime and backend facts recorded next to every perf result, so numbers are never compared
 * across machines or configurations by accident.
 */
import * as os from 'os';
import { backendReport } from '@hiedit/tensor-core';

/** What the perf JSON records about where it ran. */
export interface MachineInfo {
  hostname: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  totalMemGb: number;
  node: string;
  loadAverage: number[];
  backend: string;
  accelerator: { name: string; active: boolean; reason: string };
  versions: Record<string, string>;
  blasThreads: number | undefined;
}

/** Collects machine and backend info; call after initBackend(). */
export function machineInfo(blasThreads: number | undefined): MachineInfo {
  const cpus = os.cpus();
  const report = backendReport();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    totalMemGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    backend: report.active,
    accelerator: report.accelerator,
    versions: report.versions,
    blasThreads,
  };
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMb(): number {
  // resourceUsage().maxRSS is in kilobytes.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
