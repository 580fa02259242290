// Models rules.d/*.rules of udev 252 as shipped by Debian 12 (systemd v252): the subset of the rule files that
// decides what a SCSI storage device gets in /dev and in the udev database, written as data.
//
// Each file is a list of rules; a rule is a list of tokens evaluated left to right, as udev does: a match token
// (`==`/`!=`, and IMPORT, which fails when its program or builtin fails) that does not hold ends the rule; the
// assignments before it have already happened only if they came first on the line (none of the rules here
// does that). GOTO jumps to a LABEL of the same file. Files run in lexical order of their names.
//
// Values are udev patterns: `|` separates alternatives, each a shell glob (`*`, `?`, `[...]`, `[!...]`);
// the empty pattern matches an unset property. Assigned values go through udev's substitutions ($env{},
// $attr{}, $devnode, $kernel, $id, $root, %n, %k, %b, %r, %%, $$) in udevd.ts.
//
// Not modelled (no effect with --resolve-names=never or for SCSI storage): GROUP=/MODE= of
// 50-udev-default.rules (the captured nodes stay 0600 root:root), the sound/input/network parts of every file.

export type Op = '==' | '!=';

/** Keys matched against the event's own device. */
export type DeviceKey = 'ACTION' | 'SUBSYSTEM' | 'KERNEL' | 'DEVPATH' | 'DRIVER' | 'TAG';
/** Keys matched against the device or one of its parents (all of a rule's parent keys on the same one). */
export type ParentKey = 'SUBSYSTEMS' | 'KERNELS' | 'DRIVERS';

export type Token =
  | { readonly t: 'match'; readonly key: DeviceKey; readonly op: Op; readonly v: string }
  | { readonly t: 'env'; readonly key: string; readonly op: Op; readonly v: string }
  | { readonly t: 'attr'; readonly key: string; readonly op: Op; readonly v: string }
  | { readonly t: 'test'; readonly op: Op; readonly v: string }
  | { readonly t: 'parent'; readonly key: ParentKey; readonly op: Op; readonly v: string }
  | { readonly t: 'attrs'; readonly key: string; readonly op: Op; readonly v: string }
  | { readonly t: 'import'; readonly kind: 'program' | 'builtin' | 'parent'; readonly v: string }
  | { readonly t: 'setEnv'; readonly key: string; readonly v: string }
  | { readonly t: 'symlink'; readonly v: string }
  | { readonly t: 'tag'; readonly v: string }
  | { readonly t: 'setAttr'; readonly key: string; readonly v: string }
  | { readonly t: 'options'; readonly v: string }
  | { readonly t: 'run'; readonly v: string }
  | { readonly t: 'goto'; readonly label: string };

export type RuleLine = { readonly tokens: readonly Token[] } | { readonly label: string };

export interface RulesFile {
  readonly file: string;
  readonly lines: readonly RuleLine[];
}

// ---- token constructors (the rule files' KEY{arg}OP"value" notation) ----------------------------------

const is = (key: DeviceKey, v: string): Token => ({ t: 'match', key, op: '==', v });
const isNot = (key: DeviceKey, v: string): Token => ({ t: 'match', key, op: '!=', v });
const envIs = (key: string, v: string): Token => ({ t: 'env', key, op: '==', v });
const envIsNot = (key: string, v: string): Token => ({ t: 'env', key, op: '!=', v });
const attrIs = (key: string, v: string): Token => ({ t: 'attr', key, op: '==', v });
const parentIs = (key: ParentKey, v: string): Token => ({ t: 'parent', key, op: '==', v });
const attrsIs = (key: string, v: string): Token => ({ t: 'attrs', key, op: '==', v });
const test = (v: string): Token => ({ t: 'test', op: '==', v });
const importProgram = (v: string): Token => ({ t: 'import', kind: 'program', v });
const importBuiltin = (v: string): Token => ({ t: 'import', kind: 'builtin', v });
const importParent = (v: string): Token => ({ t: 'import', kind: 'parent', v });
const setEnv = (key: string, v: string): Token => ({ t: 'setEnv', key, v });
const symlink = (v: string): Token => ({ t: 'symlink', v });
const tag = (v: string): Token => ({ t: 'tag', v });
const setAttr = (key: string, v: string): Token => ({ t: 'setAttr', key, v });
const options = (v: string): Token => ({ t: 'options', v });
const run = (v: string): Token => ({ t: 'run', v });
const goto = (label: string): Token => ({ t: 'goto', label });
const rule = (...tokens: Token[]): RuleLine => ({ tokens });
const label = (name: string): RuleLine => ({ label: name });

/** The kernel names 60-persistent-storage.rules handles (its KERNEL!= guard). */
const PERSISTENT_STORAGE_KERNELS =
  'loop*|mmcblk*[0-9]|msblk*[0-9]|mspblk*[0-9]|nvme*|sd*|sr*|vd*|xvd*|bcache*|cciss*|dasd*|ubd*|ubi*|scm*|pmem*|nbd*|zd*';

/** rules.d/60-block.rules: media polling on, scsi_device changes forwarded to the disk, watch on disks. */
const BLOCK: RulesFile = {
  file: '60-block.rules',
  lines: [
    rule(is('ACTION', 'add'), is('SUBSYSTEM', 'module'), is('KERNEL', 'block'),
      attrIs('parameters/events_dfl_poll_msecs', '0'), setAttr('parameters/events_dfl_poll_msecs', '2000')),
    rule(is('ACTION', 'change'), is('SUBSYSTEM', 'scsi'), envIs('DEVTYPE', 'scsi_device'), test('block'),
      setAttr('block/*/uevent', 'change')),
    rule(isNot('ACTION', 'remove'), is('SUBSYSTEM', 'block'),
      is('KERNEL', 'loop*|mmcblk*[0-9]|msblk*[0-9]|mspblk*[0-9]|nvme*|sd*|vd*|xvd*|bcache*|cciss*|dasd*|ubd*|ubi*|scm*|pmem*|nbd*|zd*|rbd*|zram*'),
      options('watch')),
  ],
};

/** rules.d/60-cdrom_id.rules: ID_CDROM, cdrom_id (locks the tray at every add/change), the /dev/cdrom link. */
const CDROM_ID: RulesFile = {
  file: '60-cdrom_id.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('cdrom_end')),
    rule(isNot('SUBSYSTEM', 'block'), goto('cdrom_end')),
    rule(isNot('KERNEL', 'sr[0-9]*|vdisk*|xvd*'), goto('cdrom_end')),
    rule(envIsNot('DEVTYPE', 'disk'), goto('cdrom_end')),
    rule(is('KERNEL', 'sr[0-9]*'), setEnv('ID_CDROM', '1')),
    rule(envIs('ID_CDROM', '1'), setEnv('SYSTEMD_MOUNT_DEVICE_BOUND', '1')),
    rule(envIs('DISK_EJECT_REQUEST', '?*'), run('cdrom_id --eject-media $devnode'), goto('cdrom_end')),
    rule(importProgram('cdrom_id --lock-media $devnode')),
    rule(envIs('DISK_MEDIA_CHANGE', '?*'), setEnv('DISK_MEDIA_CHANGE', '1')),
    rule(envIs('DISK_MEDIA_CHANGE', '?*'), envIsNot('ID_CDROM_MEDIA', '?*'), setEnv('SYSTEMD_READY', '0')),
    rule(is('KERNEL', 'sr0'), symlink('cdrom'), options('link_priority=-100')),
    label('cdrom_end'),
  ],
};

/** rules.d/60-persistent-storage.rules: by-id (scsi_id, ata_id), by-path, by-uuid/label, wwn, part*, diskseq. */
const PERSISTENT_STORAGE: RulesFile = {
  file: '60-persistent-storage.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('persistent_storage_end')),
    rule(envIs('UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG', '1'), goto('persistent_storage_end')),
    rule(isNot('SUBSYSTEM', 'block|ubi'), goto('persistent_storage_end')),
    rule(isNot('KERNEL', PERSISTENT_STORAGE_KERNELS), goto('persistent_storage_end')),
    rule(test('whole_disk'), goto('persistent_storage_end')),
    // A partition inherits the disk's ID_* except ID_FS_*.
    rule(envIs('DEVTYPE', 'partition'),
      importParent('ID_[!F]*'), importParent('ID_'), importParent('ID_F[!S]*'), importParent('ID_F'),
      importParent('ID_FS[!_]*'), importParent('ID_FS')),
    // ATA disks, and ATAPI devices of SPC-3 or later (QEMU's CD: tried, refused, then scsi_id).
    rule(is('KERNEL', 'sd*[!0-9]|sr*'), envIsNot('ID_SERIAL', '?*'), parentIs('SUBSYSTEMS', 'scsi'),
      attrsIs('vendor', 'ATA'), importProgram('ata_id --export $devnode')),
    rule(is('KERNEL', 'sd*[!0-9]|sr*'), envIsNot('ID_SERIAL', '?*'), parentIs('SUBSYSTEMS', 'scsi'),
      attrsIs('type', '5'), attrsIs('scsi_level', '[6-9]*'), importProgram('ata_id --export $devnode')),
    rule(is('KERNEL', 'sd*[!0-9]|sr*'), envIsNot('ID_SERIAL', '?*'), parentIs('SUBSYSTEMS', 'usb'), importBuiltin('usb_id')),
    // SCSI
    rule(is('KERNEL', 'sd*[!0-9]|sr*'), envIsNot('ID_SERIAL', '?*'),
      importProgram('scsi_id --export --whitelisted -d $devnode'), setEnv('ID_BUS', 'scsi')),
    rule(is('KERNEL', 'sd*|sr*|cciss*'), envIs('DEVTYPE', 'disk'), envIs('ID_SERIAL', '?*'),
      symlink('disk/by-id/$env{ID_BUS}-$env{ID_SERIAL}')),
    rule(is('KERNEL', 'sd*|cciss*'), envIs('DEVTYPE', 'partition'), envIs('ID_SERIAL', '?*'),
      symlink('disk/by-id/$env{ID_BUS}-$env{ID_SERIAL}-part%n')),
    // FireWire
    rule(is('KERNEL', 'sd*[!0-9]|sr*'), attrsIs('ieee1394_id', '?*'), symlink('disk/by-id/ieee1394-$attr{ieee1394_id}')),
    // by-path
    rule(envIs('DEVTYPE', 'disk'), isNot('DEVPATH', '*/virtual/*'), importBuiltin('path_id')),
    rule(envIs('DEVTYPE', 'disk'), envIs('ID_PATH', '?*'), symlink('disk/by-path/$env{ID_PATH}')),
    rule(envIs('DEVTYPE', 'partition'), envIs('ID_PATH', '?*'), symlink('disk/by-path/$env{ID_PATH}-part%n')),
    // Filesystems: optical media with a data track, and every other disk.
    rule(is('KERNEL', 'sr*'), envIsNot('DISK_EJECT_REQUEST', '?*'), envIs('ID_CDROM_MEDIA_TRACK_COUNT_DATA', '?*'),
      envIs('ID_CDROM_MEDIA_SESSION_LAST_OFFSET', '?*'),
      importBuiltin('blkid --hint=session_offset=$env{ID_CDROM_MEDIA_SESSION_LAST_OFFSET}')),
    rule(is('KERNEL', 'sr*'), envIsNot('DISK_EJECT_REQUEST', '?*'), envIs('ID_CDROM_MEDIA_TRACK_COUNT_DATA', '?*'),
      envIs('ID_CDROM_MEDIA_SESSION_LAST_OFFSET', ''), importBuiltin('blkid --noraid')),
    rule(isNot('KERNEL', 'sr*|mmcblk[0-9]boot[0-9]'), importBuiltin('blkid')),
    rule(envIs('ID_FS_USAGE', 'filesystem|other|crypto'), envIs('ID_FS_UUID_ENC', '?*'),
      symlink('disk/by-uuid/$env{ID_FS_UUID_ENC}')),
    rule(envIs('ID_FS_USAGE', 'filesystem|other|crypto'), envIs('ID_FS_LABEL_ENC', '?*'),
      symlink('disk/by-label/$env{ID_FS_LABEL_ENC}')),
    // World Wide Name
    rule(envIs('DEVTYPE', 'disk'), envIs('ID_WWN_WITH_EXTENSION', '?*'), symlink('disk/by-id/wwn-$env{ID_WWN_WITH_EXTENSION}')),
    rule(envIs('DEVTYPE', 'partition'), envIs('ID_WWN_WITH_EXTENSION', '?*'),
      symlink('disk/by-id/wwn-$env{ID_WWN_WITH_EXTENSION}-part%n')),
    // Partition metadata
    rule(envIs('ID_PART_ENTRY_UUID', '?*'), symlink('disk/by-partuuid/$env{ID_PART_ENTRY_UUID}')),
    rule(envIs('ID_PART_ENTRY_SCHEME', 'gpt'), envIs('ID_PART_ENTRY_NAME', '?*'), symlink('disk/by-partlabel/$env{ID_PART_ENTRY_NAME}')),
    // by-diskseq
    rule(envIs('DISKSEQ', '?*'), envIsNot('DEVTYPE', 'partition'), symlink('disk/by-diskseq/$env{DISKSEQ}')),
    label('persistent_storage_end'),
  ],
};

/** rules.d/60-persistent-storage-tape.rules (v252): medium changers through sg, st/nst by-id and by-path. */
const PERSISTENT_STORAGE_TAPE: RulesFile = {
  file: '60-persistent-storage-tape.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('persistent_storage_tape_end')),
    rule(envIs('UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG', '1'), goto('persistent_storage_tape_end')),
    rule(is('SUBSYSTEM', 'scsi_generic'), parentIs('SUBSYSTEMS', 'scsi'), attrsIs('type', '8'),
      importProgram('scsi_id --sg-version=3 --export --whitelisted -d $devnode'),
      symlink('tape/by-id/scsi-$env{ID_SERIAL}')),
    rule(is('SUBSYSTEM', 'scsi_generic'), parentIs('SUBSYSTEMS', 'scsi'), attrsIs('type', '8'),
      envIs('ID_SCSI_SERIAL', '?*'), symlink('tape/by-id/scsi-$env{ID_SCSI_SERIAL}')),
    rule(is('SUBSYSTEM', 'scsi_generic'), parentIs('SUBSYSTEMS', 'scsi'), attrsIs('type', '8'),
      importBuiltin('path_id'), symlink('tape/by-path/$env{ID_PATH}-changer')),
    rule(isNot('SUBSYSTEM', 'scsi_tape'), goto('persistent_storage_tape_end')),
    rule(is('KERNEL', 'st*[0-9]|nst*[0-9]'), attrsIs('ieee1394_id', '?*'),
      setEnv('ID_SERIAL', '$attr{ieee1394_id}'), setEnv('ID_BUS', 'ieee1394')),
    rule(is('KERNEL', 'st*[0-9]|nst*[0-9]'), envIsNot('ID_SERIAL', '?*'), parentIs('SUBSYSTEMS', 'usb'), importBuiltin('usb_id')),
    rule(is('KERNEL', 'st*[0-9]|nst*[0-9]'), envIsNot('ID_SERIAL', '?*'), parentIs('SUBSYSTEMS', 'scsi'),
      parentIs('KERNELS', '[0-9]*:*[0-9]'), setEnv('.BSG_DEV', '$root/bsg/$id')),
    rule(is('KERNEL', 'st*[0-9]|nst*[0-9]'), envIsNot('ID_SERIAL', '?*'),
      importProgram('scsi_id --whitelisted --export --device=$env{.BSG_DEV}'), setEnv('ID_BUS', 'scsi')),
    rule(is('KERNEL', 'st*[0-9]'), envIs('ID_SERIAL', '?*'), symlink('tape/by-id/$env{ID_BUS}-$env{ID_SERIAL}')),
    rule(is('KERNEL', 'nst*[0-9]'), envIs('ID_SERIAL', '?*'), symlink('tape/by-id/$env{ID_BUS}-$env{ID_SERIAL}-nst')),
    rule(is('KERNEL', 'st*[0-9]|nst*[0-9]'), importBuiltin('path_id')),
    rule(is('KERNEL', 'st*[0-9]'), envIs('ID_PATH', '?*'), symlink('tape/by-path/$env{ID_PATH}')),
    rule(is('KERNEL', 'nst*[0-9]'), envIs('ID_PATH', '?*'), symlink('tape/by-path/$env{ID_PATH}-nst')),
    label('persistent_storage_tape_end'),
  ],
};

/** rules.d/70-uaccess.rules: optical drives (block and their sg node) are handed to the seat's user. */
const UACCESS: RulesFile = {
  file: '70-uaccess.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('uaccess_end')),
    rule(envIs('MAJOR', ''), goto('uaccess_end')),
    rule(is('SUBSYSTEM', 'block'), envIs('ID_CDROM', '1'), tag('uaccess')),
    rule(is('SUBSYSTEM', 'scsi_generic'), parentIs('SUBSYSTEMS', 'scsi'), attrsIs('type', '4|5'), tag('uaccess')),
    label('uaccess_end'),
  ],
};

/** rules.d/71-seat.rules: uaccess devices join the seat, which names them by their path (ID_FOR_SEAT). */
const SEAT: RulesFile = {
  file: '71-seat.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('seat_end')),
    rule(is('TAG', 'uaccess'), isNot('SUBSYSTEM', 'sound'), tag('seat')),
    rule(is('TAG', 'seat'), envIs('ID_PATH', ''), importBuiltin('path_id')),
    rule(is('TAG', 'seat'), envIs('ID_FOR_SEAT', ''), envIsNot('ID_PATH_TAG', ''),
      setEnv('ID_FOR_SEAT', '$env{SUBSYSTEM}-$env{ID_PATH_TAG}')),
    label('seat_end'),
  ],
};

/** rules.d/99-systemd.rules: block devices become systemd units. */
const SYSTEMD: RulesFile = {
  file: '99-systemd.rules',
  lines: [
    rule(is('ACTION', 'remove'), goto('systemd_end')),
    rule(is('SUBSYSTEM', 'block'), tag('systemd')),
    label('systemd_end'),
  ],
};

/** The rule files, in the order udevd reads them (lexical by name). */
export const RULES: readonly RulesFile[] = [BLOCK, CDROM_ID, PERSISTENT_STORAGE, PERSISTENT_STORAGE_TAPE, UACCESS, SEAT, SYSTEMD];

// ---- patterns ---------------------------------------------------------------------------------------

/** fnmatch(3) without flags: `*`, `?`, bracket sets with ranges and `!`/`^` negation, `\` escapes. */
export function fnmatch(pattern: string, s: string): boolean {
  const match = (pi: number, si: number): boolean => {
    while (pi < pattern.length) {
      const c = pattern[pi]!;
      if (c === '*') {
        for (let k = si; k <= s.length; k++) if (match(pi + 1, k)) return true;
        return false;
      }
      if (si >= s.length) return false;
      if (c === '?') {
        pi++;
        si++;
      } else if (c === '[') {
        const end = pattern.indexOf(']', pi + 2);
        if (end < 0) {
          if (s[si] !== '[') return false;
          pi++;
          si++;
          continue;
        }
        let body = pattern.slice(pi + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        let hit = false;
        for (let k = 0; k < body.length; k++) {
          if (body[k + 1] === '-' && k + 2 < body.length) {
            if (s[si]! >= body[k]! && s[si]! <= body[k + 2]!) hit = true;
            k += 2;
          } else if (body[k] === s[si]) hit = true;
        }
        if (hit === negate) return false;
        pi = end + 1;
        si++;
      } else {
        const lit = c === '\\' && pi + 1 < pattern.length ? pattern[++pi]! : c;
        if (lit !== s[si]) return false;
        pi++;
        si++;
      }
    }
    return si === s.length;
  };
  return match(0, 0);
}

/** udev's value match: alternatives separated by `|`; the empty pattern matches the empty (unset) value. */
export function udevPatternMatch(pattern: string, value: string): boolean {
  return pattern.split('|').some((alt) => (alt === '' ? value === '' : fnmatch(alt, value)));
}
