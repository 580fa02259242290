// Models hw/core/qdev-properties.c + qdev-properties-system.c (QEMU 7.2): the property tables of the
// devices we model, used both to parse `-device` / `device_add` options (with QEMU's keyval visitor
// error texts) and to print `-device help` / `-device <driver>,help`.
//
// Tables are data (names, QOM type names, descriptions, defaults) taken from QEMU 7.2's
// hw/scsi/scsi-disk.c, scsi-generic.c, scsi-bus.c, hw/scsi/virtio-scsi.c, hw/virtio/virtio-pci.c,
// virtio-scsi-pci.c, hw/pci/pci.c and include/hw/block/block.h. Only the devices we model are listed
// in `-device help` (plus virtio-net-pci, which the seed's command lines use); QEMU lists ~200.
// scsi-tape is ours (QEMU 7.2 emulates no tape drive): its table is this project's, not QEMU's.

import type { QemuError } from './qemu-option.ts';
import { invalidParameterValue, parseBool, qemuError, strtosz, strtou64 } from './qemu-option.ts';

/** How a value is parsed and checked (the PropertyInfo's setter). */
export type PropKind =
  | 'str'
  | 'drive'
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int32'
  | 'size32'
  | 'size'
  | 'blocksize'
  | 'OnOffAuto'
  | 'BlockdevOnError'
  | 'pci-devfn'
  | 'link'
  | 'child';

export interface PropDef {
  readonly name: string;
  readonly kind: PropKind;
  /** The QOM type name shown in help (`<uint32>`, `<str>`, `<BlockdevOnError>` …). */
  readonly type: string;
  readonly description?: string;
  /** The default as QEMU's help prints it (JSON), or undefined when the property has none. */
  readonly defval?: string;
}

export type PropValue = string | boolean | bigint;

const ON_OFF = 'on/off';
const DRIVE_DESC = 'Node name or ID of a block device to use as a backend';
const BLOCKSIZE_DESC = 'A power of two between 512 B and 2 MiB';
const ERROR_DESC = 'Error handling policy, report/ignore/enospc/stop/auto';
const ON_OFF_AUTO_DESC = 'on/off/auto';

const str = (name: string): PropDef => ({ name, kind: 'str', type: 'str' });
const bit = (name: string, def: boolean): PropDef => ({
  name, kind: 'bool', type: 'bool', description: ON_OFF, defval: String(def),
});
const bool = (name: string, def: boolean): PropDef => ({ name, kind: 'bool', type: 'bool', defval: String(def) });
const uint = (name: string, kind: 'uint8' | 'uint16' | 'uint32' | 'uint64', def: bigint): PropDef => ({
  name, kind, type: kind, defval: def.toString(),
});
const int32 = (name: string, def: number | undefined): PropDef =>
  def === undefined ? { name, kind: 'int32', type: 'int32' } : { name, kind: 'int32', type: 'int32', defval: String(def) };
const onOffAuto = (name: string): PropDef => ({
  name, kind: 'OnOffAuto', type: 'OnOffAuto', description: ON_OFF_AUTO_DESC, defval: '"auto"',
});
const onError = (name: string): PropDef => ({
  name, kind: 'BlockdevOnError', type: 'BlockdevOnError', description: ERROR_DESC, defval: '"auto"',
});
const drive: PropDef = { name: 'drive', kind: 'drive', type: 'str', description: DRIVE_DESC };

const U32_MAX = 0xffff_ffffn;
const DEFAULT_MAX_UNMAP_SIZE = 1n << 30n;
const DEFAULT_MAX_IO_SIZE = 0x7fff_ffffn; // INT_MAX
const DEFAULT_IO_TIMEOUT = 30n;

/** SCSIDevice (hw/scsi/scsi-bus.c scsi_props) plus the bootindex property every SCSI device adds. */
const SCSI_DEVICE_PROPS: readonly PropDef[] = [
  uint('channel', 'uint32', 0n),
  uint('scsi-id', 'uint32', U32_MAX),
  uint('lun', 'uint32', U32_MAX),
  int32('bootindex', undefined),
];

/** DEFINE_BLOCK_PROPERTIES_BASE (include/hw/block/block.h, QEMU 7.2). */
const BLOCK_PROPS_BASE: readonly PropDef[] = [
  onOffAuto('backend_defaults'),
  { name: 'logical_block_size', kind: 'blocksize', type: 'size', description: BLOCKSIZE_DESC, defval: '0' },
  { name: 'physical_block_size', kind: 'blocksize', type: 'size', description: BLOCKSIZE_DESC, defval: '0' },
  { name: 'min_io_size', kind: 'size32', type: 'size', defval: '0' },
  { name: 'opt_io_size', kind: 'size32', type: 'size', defval: '0' },
  { name: 'discard_granularity', kind: 'size32', type: 'size', defval: U32_MAX.toString() },
  onOffAuto('write-cache'),
  bool('share-rw', false),
];

/** DEFINE_SCSI_DISK_PROPERTIES (hw/scsi/scsi-disk.c). */
const SCSI_DISK_PROPS: readonly PropDef[] = [
  drive,
  ...BLOCK_PROPS_BASE,
  onError('rerror'),
  onError('werror'),
  str('ver'),
  str('serial'),
  str('vendor'),
  str('product'),
  str('device_id'),
];

const CHS_PROPS: readonly PropDef[] = ['cyls', 'heads', 'secs', 'lcyls', 'lheads', 'lsecs'].map((n) =>
  uint(n, 'uint32', 0n),
);

const SCSI_HD_PROPS: readonly PropDef[] = [
  ...SCSI_DEVICE_PROPS,
  ...SCSI_DISK_PROPS,
  bit('removable', false),
  bit('dpofua', false),
  uint('wwn', 'uint64', 0n),
  uint('port_wwn', 'uint64', 0n),
  uint('port_index', 'uint16', 0n),
  uint('max_unmap_size', 'uint64', DEFAULT_MAX_UNMAP_SIZE),
  uint('max_io_size', 'uint64', DEFAULT_MAX_IO_SIZE),
  uint('rotation_rate', 'uint16', 0n),
  int32('scsi_version', 5),
  ...CHS_PROPS,
];

const SCSI_CD_PROPS: readonly PropDef[] = [
  ...SCSI_DEVICE_PROPS,
  ...SCSI_DISK_PROPS,
  uint('wwn', 'uint64', 0n),
  uint('port_wwn', 'uint64', 0n),
  uint('port_index', 'uint16', 0n),
  uint('max_io_size', 'uint64', DEFAULT_MAX_IO_SIZE),
  int32('scsi_version', 5),
];

const SCSI_BLOCK_PROPS: readonly PropDef[] = [
  ...SCSI_DEVICE_PROPS,
  onError('rerror'),
  onError('werror'),
  drive,
  bool('share-rw', false),
  uint('rotation_rate', 'uint16', 0n),
  uint('max_unmap_size', 'uint64', DEFAULT_MAX_UNMAP_SIZE),
  uint('max_io_size', 'uint64', DEFAULT_MAX_IO_SIZE),
  int32('scsi_version', -1),
  uint('io_timeout', 'uint32', DEFAULT_IO_TIMEOUT),
];

/** scsi-tape (ours, not in QEMU: scsi-tape.ts): a tape drive over a tape image (docs/TAPE.md). */
const SCSI_TAPE_PROPS: readonly PropDef[] = [
  ...SCSI_DEVICE_PROPS,
  drive,
  str('ver'),
  str('serial'),
  str('vendor'),
  str('product'),
  { name: 'capacity', kind: 'size', type: 'size', description: 'Cartridge capacity in bytes', defval: String(64 * 1024 * 1024) },
  { name: 'density', kind: 'uint8', type: 'uint8', description: 'Density code reported by MODE SENSE', defval: String(0x58) },
];

const SCSI_GENERIC_PROPS: readonly PropDef[] = [
  ...SCSI_DEVICE_PROPS,
  drive,
  bool('share-rw', false),
  uint('io_timeout', 'uint32', DEFAULT_IO_TIMEOUT),
];

/** PCIDevice (hw/pci/pci.c pci_props). */
const PCI_DEVICE_PROPS: readonly PropDef[] = [
  {
    name: 'addr', kind: 'pci-devfn', type: 'int32',
    description: 'Slot and optional function number, example: 06.0 or 06', defval: '-1',
  },
  str('romfile'),
  uint('romsize', 'uint32', U32_MAX),
  uint('rombar', 'uint32', 1n),
  bit('multifunction', false),
  bit('x-pcie-lnksta-dllla', true),
  bit('x-pcie-extcap-init', true),
  str('failover_pair_id'),
  uint('acpi-index', 'uint32', 0n),
];

/** VirtIOPCIProxy (hw/virtio/virtio-pci.c virtio_pci_properties). */
const VIRTIO_PCI_PROPS: readonly PropDef[] = [
  ...PCI_DEVICE_PROPS,
  bit('virtio-pci-bus-master-bug-migration', false),
  bit('migrate-extra', true),
  bit('modern-pio-notify', false),
  bit('x-disable-pcie', false),
  bit('page-per-vq', false),
  bool('x-ignore-backend-features', false),
  bit('ats', false),
  bit('x-ats-page-aligned', true),
  bit('x-pcie-deverr-init', true),
  bit('x-pcie-lnkctl-init', true),
  bit('x-pcie-pm-init', true),
  bit('x-pcie-flr-init', true),
  bit('aer', false),
];

/** DEFINE_VIRTIO_COMMON_FEATURES + virtio_properties (hw/virtio/virtio.c), aliased onto the proxy. */
const VIRTIO_DEVICE_PROPS: readonly PropDef[] = [
  bit('indirect_desc', true),
  bit('event_idx', true),
  bit('notify_on_empty', true),
  bit('any_layout', true),
  bit('iommu_platform', false),
  bit('packed', false),
  bit('queue_reset', true),
  bool('use-started', true),
  bool('use-disabled-flag', true),
  bool('x-disable-legacy-check', false),
];

/** virtio-scsi-device (hw/scsi/virtio-scsi.c virtio_scsi_properties), aliased onto the proxy. */
const VIRTIO_SCSI_PROPS: readonly PropDef[] = [
  uint('num_queues', 'uint32', U32_MAX),
  uint('virtqueue_size', 'uint32', 256n),
  bool('seg_max_adjust', true),
  uint('max_sectors', 'uint32', 0xffffn),
  uint('cmd_per_lun', 'uint32', 128n),
  bit('hotplug', true),
  bit('param_change', true),
  { name: 'iothread', kind: 'link', type: 'link<iothread>' },
];

const VIRTIO_SCSI_PCI_BASE: readonly PropDef[] = [
  ...VIRTIO_PCI_PROPS,
  bit('ioeventfd', true),
  uint('vectors', 'uint32', U32_MAX),
  ...VIRTIO_DEVICE_PROPS,
  ...VIRTIO_SCSI_PROPS,
  { name: 'virtio-backend', kind: 'child', type: 'child<virtio-scsi-device>' },
];

/** The generic (transitional-by-default) type also has the two mode switches. */
const VIRTIO_GENERIC_PROPS: readonly PropDef[] = [onOffAuto('disable-legacy'), bool('disable-modern', false)];

const VIRTIO_NET_PCI_PROPS: readonly PropDef[] = [
  ...VIRTIO_PCI_PROPS,
  ...VIRTIO_GENERIC_PROPS,
  bit('ioeventfd', true),
  uint('vectors', 'uint32', U32_MAX),
  str('mac'),
  str('netdev'),
  { name: 'virtio-backend', kind: 'child', type: 'child<virtio-net-device>' },
];

export type DeviceCategory = 'bridge' | 'usb' | 'storage' | 'network' | 'input' | 'display' | 'sound' | 'misc';

export type BusType = 'PCI' | 'SCSI';

export interface DeviceClass {
  readonly name: string;
  readonly busType: BusType;
  readonly alias?: string;
  readonly desc?: string;
  readonly category: DeviceCategory;
  readonly props: readonly PropDef[];
}

/** Every -device driver we know, keyed by QOM type name. */
export const DEVICE_CLASSES: ReadonlyMap<string, DeviceClass> = new Map(
  (
    [
      { name: 'scsi-hd', busType: 'SCSI', desc: 'virtual SCSI disk', category: 'storage', props: SCSI_HD_PROPS },
      { name: 'scsi-cd', busType: 'SCSI', desc: 'virtual SCSI CD-ROM', category: 'storage', props: SCSI_CD_PROPS },
      {
        name: 'scsi-block', busType: 'SCSI', desc: 'SCSI block device passthrough', category: 'storage',
        props: SCSI_BLOCK_PROPS,
      },
      { name: 'scsi-tape', busType: 'SCSI', desc: 'virtual SCSI tape drive', category: 'storage', props: SCSI_TAPE_PROPS },
      {
        name: 'scsi-generic', busType: 'SCSI', desc: 'pass through generic scsi device (/dev/sg*)',
        category: 'storage', props: SCSI_GENERIC_PROPS,
      },
      {
        name: 'virtio-scsi-pci', busType: 'PCI', alias: 'virtio-scsi', category: 'storage',
        props: [...VIRTIO_SCSI_PCI_BASE, ...VIRTIO_GENERIC_PROPS],
      },
      { name: 'virtio-scsi-pci-transitional', busType: 'PCI', category: 'storage', props: VIRTIO_SCSI_PCI_BASE },
      { name: 'virtio-scsi-pci-non-transitional', busType: 'PCI', category: 'storage', props: VIRTIO_SCSI_PCI_BASE },
      { name: 'virtio-net-pci', busType: 'PCI', alias: 'virtio-net', category: 'network', props: VIRTIO_NET_PCI_PROPS },
    ] satisfies DeviceClass[]
  ).map((c) => [c.name, c]),
);

/** qdev_alias_table entries for the types above (x86: virtio-*-pci). */
const ALIASES: ReadonlyMap<string, string> = new Map(
  [...DEVICE_CLASSES.values()].flatMap((c) => (c.alias ? [[c.alias, c.name] as const] : [])),
);

/** qdev_get_device_class: resolves a driver name (or alias); error text as QEMU 7.2. */
export function qdevGetDeviceClass(driver: string): DeviceClass | QemuError {
  const direct = DEVICE_CLASSES.get(driver);
  if (direct) return direct;
  const viaAlias = ALIASES.get(driver);
  if (viaAlias) return DEVICE_CLASSES.get(viaAlias)!;
  return qemuError(`'${driver}' is not a valid device model name`);
}

const CATEGORY_ORDER: readonly [DeviceCategory, string][] = [
  ['bridge', 'Controller/Bridge/Hub'],
  ['usb', 'USB'],
  ['storage', 'Storage'],
  ['network', 'Network'],
  ['input', 'Input'],
  ['display', 'Display'],
  ['sound', 'Sound'],
  ['misc', 'Misc'],
];

function caseInsensitive(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** qdev_print_devinfo: `name "scsi-hd", bus SCSI, desc "virtual SCSI disk"`. */
export function qdevPrintDevinfo(c: DeviceClass): string {
  let s = `name "${c.name}", bus ${c.busType}`;
  if (c.alias) s += `, alias "${c.alias}"`;
  if (c.desc) s += `, desc "${c.desc}"`;
  return s;
}

/**
 * qdev_print_devinfos: `-device help`. Categories in QEMU's order, classes sorted case-insensitively.
 * QEMU separates categories by a blank line; its first category (Controller/Bridge/Hub) is never
 * empty there, so no blank line leads the text — ours keeps that look with only our categories.
 */
export function qdevPrintDevinfos(): string {
  const classes = [...DEVICE_CLASSES.values()].sort((a, b) => caseInsensitive(a.name, b.name));
  const blocks: string[] = [];
  for (const [cat, title] of CATEGORY_ORDER) {
    const members = classes.filter((c) => c.category === cat);
    if (members.length === 0) continue;
    blocks.push([`${title} devices:`, ...members.map(qdevPrintDevinfo)].join('\n') + '\n');
  }
  return blocks.join('\n');
}

/** object_property_help: `  name=<type>`, padded to 24 columns before ` - description (default: x)`. */
export function objectPropertyHelp(p: PropDef): string {
  let s = `  ${p.name}=<${p.type}>`;
  if (p.description !== undefined || p.defval !== undefined) {
    if (s.length < 24) s += ' '.repeat(24 - s.length);
    s += ' - ';
  }
  if (p.description !== undefined) s += p.description;
  if (p.defval !== undefined) s += ` (default: ${p.defval})`;
  return s;
}

/** qdev_device_help for one driver: `<driver> options:` then the sorted property lines. */
export function qdevDeviceHelp(driver: string): { stdout: string } | { error: QemuError } {
  const c = DEVICE_CLASSES.get(driver) ?? DEVICE_CLASSES.get(ALIASES.get(driver) ?? '');
  if (!c) return { error: qemuError(`Device '${driver}' not found`) };
  const lines = c.props.map(objectPropertyHelp).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const head = lines.length ? `${c.name} options:` : `There are no options for ${c.name}.`;
  return { stdout: [head, ...lines].join('\n') + '\n' };
}

const UINT_LIMITS: Record<'uint8' | 'uint16' | 'uint32', [bigint, string]> = {
  uint8: [0xffn, 'uint8_t'],
  uint16: [0xffffn, 'uint16_t'],
  uint32: [U32_MAX, 'uint32_t'],
};

const ENUMS: Record<'OnOffAuto' | 'BlockdevOnError', readonly string[]> = {
  OnOffAuto: ['auto', 'on', 'off'],
  BlockdevOnError: ['report', 'ignore', 'enospc', 'stop', 'auto'],
};

/** qemu_strtoi64 with base 0 (signed). */
function strtoi64(s: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  if (m[1] === '-') v = -v;
  if (v > 0x7fff_ffff_ffff_ffffn || v < -0x8000_0000_0000_0000n) return undefined;
  return v;
}

/** set_pci_devfn: "slot[.fn]" in hex → devfn; undefined when malformed or out of range. */
export function parsePciDevfn(value: string): number | undefined {
  const m = /^(?:0[xX])?([0-9a-fA-F]+)(?:\.(?:0[xX])?([0-9a-fA-F]+))?$/.exec(value);
  if (!m) return undefined;
  const slot = parseInt(m[1]!, 16);
  const fn = m[2] === undefined ? 0 : parseInt(m[2], 16);
  if (slot > 31 || fn > 7) return undefined;
  return (slot << 3) | fn;
}

/**
 * Parses one property value the way `-device`'s keyval input visitor and the property's setter do.
 * `typename` is the device's QOM type, used in `Property 'T.p' …` messages. Drive values are
 * returned as strings and resolved by qdev-monitor (it knows the drives).
 */
export function parsePropValue(typename: string, p: PropDef, value: string): PropValue | QemuError {
  switch (p.kind) {
    case 'str':
    case 'drive':
      return value;
    case 'bool': {
      const b = parseBool(value);
      return b === undefined ? invalidParameterValue(p.name, "'on' or 'off'") : b;
    }
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64': {
      const n = strtou64(value);
      if (n === undefined || n === 'range') return invalidParameterValue(p.name, 'integer');
      if (p.kind !== 'uint64') {
        const [max, cname] = UINT_LIMITS[p.kind];
        if (n > max) return invalidParameterValue(p.name, cname);
      }
      return n;
    }
    case 'int32': {
      const n = strtoi64(value);
      if (n === undefined) return invalidParameterValue(p.name, 'integer');
      if (n > 0x7fff_ffffn || n < -0x8000_0000n) return invalidParameterValue(p.name, 'int32_t');
      return n;
    }
    case 'size': {
      const n = strtosz(value);
      if (n === undefined || n === 'range') return invalidParameterValue(p.name, 'size');
      return n;
    }
    case 'size32':
    case 'blocksize': {
      const n = strtosz(value);
      if (n === undefined || n === 'range') return invalidParameterValue(p.name, 'size');
      if (n > U32_MAX) {
        return qemuError(`Property ${typename}.${p.name} doesn't take value ${n} (maximum: ${U32_MAX})`);
      }
      if (p.kind === 'blocksize' && n !== 0n) {
        if (n < 512n || n > 2n * 1024n * 1024n) {
          return qemuError(
            `Property ${typename}.${p.name} doesn't take value ${n} (minimum: 512 B, maximum: 2 MiB)`,
          );
        }
        if ((n & (n - 1n)) !== 0n) {
          return qemuError(`Property ${typename}.${p.name} doesn't take value '${n}', it's not a power of 2`);
        }
      }
      return n;
    }
    case 'OnOffAuto':
    case 'BlockdevOnError':
      return ENUMS[p.kind].includes(value) ? value : qemuError(`Parameter '${p.name}' does not accept value '${value}'`);
    case 'pci-devfn': {
      const devfn = parsePciDevfn(value);
      if (devfn === undefined) return qemuError(`Property '${typename}.${p.name}' doesn't take value '${value}'`);
      return BigInt(devfn);
    }
    case 'link':
      // No -object support: no iothread can exist.
      return qemuError(`Device '${value}' not found`);
    case 'child':
      return qemuError('Insufficient permission to perform this operation');
  }
}

/** The default value of a property as a typed value (undefined: none, e.g. strings). */
export function propDefault(p: PropDef): PropValue | undefined {
  if (p.defval === undefined) return undefined;
  switch (p.kind) {
    case 'bool':
      return p.defval === 'true';
    case 'OnOffAuto':
    case 'BlockdevOnError':
      return JSON.parse(p.defval) as string;
    case 'str':
    case 'drive':
    case 'link':
    case 'child':
      return p.defval;
    default:
      return BigInt(p.defval);
  }
}

/**
 * Sets the given properties on a fresh instance of `cls` (object_set_properties_from_keyval):
 * in the order given, the first failure wins. `drive` values are left as strings.
 */
export function setProperties(
  cls: DeviceClass,
  given: readonly { name: string; value: string }[],
): Map<string, PropValue> | QemuError {
  const out = new Map<string, PropValue>();
  for (const p of cls.props) {
    const d = propDefault(p);
    if (d !== undefined) out.set(p.name, d);
  }
  for (const { name, value } of given) {
    const p = cls.props.find((x) => x.name === name);
    if (!p) return qemuError(`Property '${cls.name}.${name}' not found`);
    const v = parsePropValue(cls.name, p, value);
    if (typeof v === 'object') return v;
    out.set(name, v);
  }
  return out;
}
