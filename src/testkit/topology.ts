// Ours: fast-check arbitraries for machine topologies (1–3 virtio-scsi controllers with hotplug on or
// off, targets 0–255, sparse LUNs 0–16383, disks and CDs of several sizes), and the QEMU command line
// and host images that build one.

import fc from 'fast-check';
import type { ControllerSpec, LunKind, LunSpec, Topology } from './model.ts';

export interface TopologyOptions {
  /** Number of controllers (default 1–3). */
  readonly minControllers?: number;
  readonly maxControllers?: number;
  /** LUs per controller at boot (default 0–4). */
  readonly maxLunsPerController?: number;
  /** Fix `hotplug` on every controller, or leave it random (default). */
  readonly hotplug?: boolean;
  /** Image sizes in MiB to choose from (default 1, 2, 4, 8). */
  readonly sizesMiB?: readonly number[];
}

/** A target id: mostly small (where collisions and shared targets happen), sometimes anywhere in 0–255. */
export const arbTarget = (): fc.Arbitrary<number> =>
  fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 });

/** A QEMU LUN: 0, a small one, or a sparse one up to 16383 (flat addressing from 256 on). */
export const arbLun = (): fc.Arbitrary<number> =>
  fc.oneof(
    { arbitrary: fc.constant(0), weight: 3 },
    { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 16383 }), weight: 1 },
  );

export const arbKind = (): fc.Arbitrary<LunKind> => fc.oneof({ arbitrary: fc.constant<LunKind>('disk'), weight: 3 }, { arbitrary: fc.constant<LunKind>('cd'), weight: 1 });

export function arbLunSpec(o: TopologyOptions = {}): fc.Arbitrary<LunSpec> {
  return fc.record({ target: arbTarget(), lun: arbLun(), kind: arbKind(), sizeMiB: fc.constantFrom(...(o.sizesMiB ?? [1, 2, 4, 8])) });
}

export function arbController(o: TopologyOptions = {}): fc.Arbitrary<ControllerSpec> {
  return fc.record({
    hotplug: o.hotplug !== undefined ? fc.constant(o.hotplug) : fc.boolean(),
    luns: fc.uniqueArray(arbLunSpec(o), { maxLength: o.maxLunsPerController ?? 4, selector: (l) => `${l.target}:${l.lun}` }),
  });
}

export function arbTopology(o: TopologyOptions = {}): fc.Arbitrary<Topology> {
  return fc.array(arbController(o), { minLength: o.minControllers ?? 1, maxLength: o.maxControllers ?? 3 }).map((controllers) => ({ controllers }));
}

/** QEMU's argv for a topology: controller `scsiN` then its LUs, drives `bN_I`, devices `bdN_I`. */
export function topologyArgv(t: Topology, base: readonly string[] = ['-machine', 'pc', '-m', '128', '-smp', '2']): string[] {
  const argv = [...base];
  t.controllers.forEach((c, ci) => {
    argv.push('-device', `virtio-scsi-pci,id=scsi${ci}${c.hotplug ? '' : ',hotplug=off'}`);
    c.luns.forEach((l, li) => {
      argv.push('-drive', `file=/images/b${ci}_${li}.img,if=none,id=b${ci}_${li},format=raw${l.kind === 'cd' ? ',media=cdrom,readonly=on' : ''}`);
      argv.push('-device', `${l.kind === 'disk' ? 'scsi-hd' : 'scsi-cd'},drive=b${ci}_${li},id=bd${ci}_${li},bus=scsi${ci}.0,scsi-id=${l.target},lun=${l.lun}`);
    });
  });
  return argv;
}

/** The host images a topology boots from, as path → size in bytes (zero-filled). */
export function topologyImages(t: Topology): Record<string, number> {
  const out: Record<string, number> = {};
  t.controllers.forEach((c, ci) => c.luns.forEach((l, li) => (out[`/images/b${ci}_${li}.img`] = l.sizeMiB << 20)));
  return out;
}
