// Models drivers/scsi/hosts.c (Linux 6.1): allocating a Scsi_Host for an LLD (host number from an
// IDA, so numbers are reused), adding it under its parent device, and removing it with everything on it.

import type { Device } from '../sysfs/core.ts';
import { KERN_INFO } from '../kernel/kernel.ts';
import type { ScsiMod } from './scsi.ts';
import { ScsiHost } from './scsi_host.ts';
import type { ScsiHostTemplate } from './scsi_host.ts';
import { shostTransitionAllowed } from './scsi_device_state.ts';
import type { ShostState } from './scsi_device_state.ts';
import { removeDevice, scanHostSelected } from './scsi_scan.ts';
import { enableRuntimePm, hostAttrs, hostDevices } from './scsi_sysfs.ts';
import { shostPrintk } from './scsi_logging.ts';

/** scsi_host_alloc: defaults max_channel 0, max_id 8, max_lun 8, max_cmd_len 12. */
export function scsiHostAlloc<P>(mod: ScsiMod, template: ScsiHostTemplate<P>, hostdata: P, parent: Device): ScsiHost<P> {
  const hostNo = mod.allocHostNo();
  const { gendev, classdev } = hostDevices(mod, hostNo, parent);
  const host = new ScsiHost(hostNo, template, hostdata, gendev, classdev);
  // scsi_mod.eh_deadline (seconds) applies only to hosts that can be reset.
  const d = mod.params.ehDeadline;
  host.ehDeadline = d < 0 || !template.ehHostResetHandler ? -1 : d;
  // Each hardware queue's tag allocation hint starts at a random place (sbitmap_init_node).
  const seeds: number[] = [];
  host.tagHintSeed = (hwq) => (seeds[hwq] ??= mod.kernel.randomU32());
  return host;
}

export function scsiHostSetState(host: ScsiHost, state: ShostState): boolean {
  if (!shostTransitionAllowed(host.state, state)) return false;
  host.state = state;
  return true;
}

/** scsi_add_host: `scsi hostN: <name>`, the bus and class devices, state RUNNING. */
export function scsiAddHost(mod: ScsiMod, host: ScsiHost): void {
  shostPrintk(mod, KERN_INFO, host, host.template.name);
  if (host.cmdPerLun > host.canQueue) host.cmdPerLun = host.canQueue;
  enableRuntimePm(mod, host.shostGendev, 'host');
  mod.kernel.dm.add(host.shostGendev);
  scsiHostSetState(host, 'running');
  mod.kernel.dm.add(
    host.shostDev,
    hostAttrs(mod, host, (t) => scanHostSelected(mod, host, t.channel, t.id, t.lun, 'manual')),
  );
  mod.hosts.push(host);
}

/** scsi_remove_host: every LU removed, then the host's devices; the number becomes free again. */
export async function scsiRemoveHost(mod: ScsiMod, host: ScsiHost): Promise<void> {
  if (!scsiHostSetState(host, 'cancel')) scsiHostSetState(host, 'cancel/recovery');
  for (const sdev of [...host.devices]) await removeDevice(mod, sdev);
  scsiHostSetState(host, 'deleted');
  mod.kernel.dm.del(host.shostDev);
  mod.kernel.dm.del(host.shostGendev);
  mod.hosts.splice(mod.hosts.indexOf(host), 1);
  mod.freeHostNo(host.hostNo);
}
