// Models misc-utils/blkid.c (util-linux 2.38.1): `blkid [DEV…]` through the classic cache API (tags
// LABEL/UUID/TYPE/BLOCK_SIZE/PTUUID/PTTYPE, without the *_ID ones), `blkid -p` low-level probing
// (every value, plus USAGE and VERSION), `-o full|value|device|export|udev`, `-s TAG`, `-t NAME=value`,
// `-L`/`-U` lookups. Exit status: 0 found, 2 nothing found, 4 usage/other error.
//
// No cache file is kept (/run/blkid does not exist on this guest): every run probes the devices.
// Without device arguments the devices are those of /proc/partitions.

import { isErrno, strerror } from '../kernel/errno.ts';
import { S_IFBLK, S_IFMT, S_IFREG } from '../kernel/syscalls.ts';
import { err } from './applet.ts';
import {
  BLKID_FLAGS_CACHE,
  BLKID_FLAGS_LOWPROBE,
  blkidCacheTags,
  blkidEncodeString,
  blkidProbeDevice,
  blkidSafeString,
} from './libblkid.ts';
import type { BlkidValue } from './libblkid.ts';
import { partitionDevices } from './mount.ts';
import type { CommandEntry, Process } from './process.ts';

const BLKID_EXIT_NOTFOUND = 2;
const BLKID_EXIT_OTHER = 4;
const VERSION_LINE = 'blkid from util-linux 2.38.1  (libblkid 2.38.1, 04-Aug-2022)\n';

type Output = 'full' | 'value' | 'device' | 'export' | 'udev';

/** safe_print: control bytes as ^X, high bytes as M-, and the given characters escaped with `\`. */
function safePrint(value: string, esc: string, raw: boolean): string {
  const bytes = new TextEncoder().encode(value);
  let out = '';
  for (let ch of bytes) {
    if (!raw) {
      if (ch >= 128) {
        out += 'M-';
        ch -= 128;
      }
      if (ch < 32 || ch === 0x7f) {
        out += '^';
        ch ^= 0x40;
      } else if (esc.includes(String.fromCharCode(ch))) out += '\\';
    }
    out += String.fromCharCode(ch);
  }
  return raw ? new TextDecoder().decode(bytes) : out;
}

/** print_udev_format. */
function udevFormat(name: string, value: string): string {
  const encodedNames = ['TYPE', 'VERSION', 'SYSTEM_ID', 'PUBLISHER_ID', 'APPLICATION_ID', 'BOOT_SYSTEM_ID', 'VOLUME_ID', 'LOGICAL_VOLUME_ID', 'VOLUME_SET_ID', 'DATA_PREPARER_ID'];
  if (encodedNames.includes(name)) return `ID_FS_${name}=${blkidEncodeString(value)}\n`;
  if (name === 'UUID' || name.startsWith('LABEL') || name === 'UUID_SUB')
    return `ID_FS_${name}=${blkidSafeString(value)}\nID_FS_${name}_ENC=${blkidEncodeString(value)}\n`;
  if (name === 'PTUUID') return `ID_PART_TABLE_UUID=${value}\n`;
  if (name === 'PTTYPE') return `ID_PART_TABLE_TYPE=${value}\n`;
  if (name === 'PART_ENTRY_NAME' || name === 'PART_ENTRY_TYPE') return `ID_${name}=${blkidEncodeString(value)}\n`;
  if (name.startsWith('PART_ENTRY_')) return `ID_${name}=${value}\n`;
  if (name.length >= 15 && (name.endsWith('_SECTOR_SIZE') || name.endsWith('_IO_SIZE') || name === 'ALIGNMENT_OFFSET')) return `ID_IOLIMIT_${name}=${value}\n`;
  return `ID_FS_${name}=${value}\n`;
}

interface Ctl {
  output: Output;
  raw: boolean;
  show: string[];
}

/** print_value for the `num`-th shown value of a device (1-based). */
function printValue(ctl: Ctl, num: number, devname: string, name: string, value: string): string {
  switch (ctl.output) {
    case 'value':
      return `${value}\n`;
    case 'udev':
      return udevFormat(name, value);
    case 'export':
      return `${num === 1 ? `DEVNAME=${devname}\n` : ''}${name}=${safePrint(value, ' \\"\'$`<>', ctl.raw)}\n`;
    default:
      return `${num === 1 ? `${devname}:` : ''} ${name}="${safePrint(value, '"\\', ctl.raw)}"`;
  }
}

/** The lines for one device (print_tags / lowprobe_device); '' when no value is shown. */
function printDevice(ctl: Ctl, devname: string, values: readonly BlkidValue[], first: boolean): string {
  if (values.length === 0) return '';
  if (ctl.output === 'device') return `${devname}\n`;
  let out = '';
  let num = 1;
  for (const v of values) {
    if (ctl.show.length > 0 && !ctl.show.includes(v.name)) continue;
    if (num === 1 && !first && (ctl.output === 'udev' || ctl.output === 'export')) out += '\n';
    out += printValue(ctl, num++, devname, v.name, v.value);
  }
  if (num > 1 && ctl.output === 'full') out += '\n';
  return out;
}

export async function blkidMain(p: Process): Promise<number> {
  const ctl: Ctl = { output: 'full', raw: false, show: [] };
  let lowprobe = false;
  let search: { name: string; value: string } | null = null;
  let evaluate = false;
  const devices: string[] = [];
  const args = p.argv.slice(1);
  const withArg = new Set(['c', 'H', 'L', 'n', 'o', 'O', 's', 'S', 't', 'u', 'U', 'w']);
  const longs: Record<string, string> = {
    'cache-file': 'c', 'no-encoding': 'd', 'no-part-details': 'D', 'garbage-collect': 'g', output: 'o', 'list-filesystems': 'k',
    'match-tag': 's', 'match-token': 't', 'list-one': 'l', label: 'L', uuid: 'U', probe: 'p', hint: 'H', info: 'i', size: 'S',
    offset: 'O', usages: 'u', 'match-types': 'n', version: 'V', help: 'h',
  };
  const opts: [string, string | null][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      devices.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const [lname, inline] = a.slice(2).split(/=(.*)/s) as [string, string | undefined];
      const c = longs[lname];
      if (!c) {
        await err(p, `blkid: unrecognized option '${a}'\nTry 'blkid --help' for more information.\n`);
        return 1;
      }
      opts.push([c, withArg.has(c) ? (inline ?? args[++i] ?? null) : null]);
      continue;
    }
    if (!a.startsWith('-') || a === '-') {
      devices.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (!'cDdgHhilLnkoOpsStuUwVv'.includes(c)) {
        await err(p, `blkid: invalid option -- '${c}'\nTry 'blkid --help' for more information.\n`);
        return 1;
      }
      if (withArg.has(c)) {
        const v = j + 1 < a.length ? a.slice(j + 1) : (args[++i] ?? null);
        if (v === null) {
          await err(p, `blkid: option requires an argument -- '${c}'\nTry 'blkid --help' for more information.\n`);
          return 1;
        }
        opts.push([c, v]);
        break;
      }
      opts.push([c, null]);
    }
  }
  for (const [c, v] of opts) {
    switch (c) {
      case 'd':
        ctl.raw = true;
        break;
      case 'L':
      case 'U':
        evaluate = true;
        search = { name: c === 'L' ? 'LABEL' : 'UUID', value: v! };
        break;
      case 'o': {
        const fmt = v === 'full' ? 'full' : v;
        if (fmt !== 'full' && fmt !== 'value' && fmt !== 'device' && fmt !== 'export' && fmt !== 'udev') {
          await err(p, `blkid: unsupported output format ${v}\n`);
          return BLKID_EXIT_OTHER;
        }
        ctl.output = fmt;
        break;
      }
      case 'p':
        lowprobe = true;
        break;
      case 's':
        ctl.show.push(v!);
        break;
      case 't': {
        const m = /^([^=]+)=(?:"(.*)"|(.*))$/.exec(v!);
        if (!m) {
          await err(p, "blkid: -t needs NAME=value pair\nTry 'blkid --help' for more information.\n");
          return BLKID_EXIT_OTHER;
        }
        search = { name: m[1]!, value: m[2] ?? m[3] ?? '' };
        break;
      }
      case 'V':
      case 'v':
        await p.stdout.write(VERSION_LINE);
        return 0;
      default:
        break;
    }
  }

  // Device arguments that are neither block devices nor regular files are dropped silently.
  const named: string[] = [];
  if (devices.length > 0) {
    for (const d of devices) {
      try {
        const st = await p.sys.stat(d);
        const fmt = st.mode & S_IFMT;
        if (fmt === S_IFBLK || fmt === S_IFREG) named.push(d);
      } catch (e) {
        if (!isErrno(e)) throw e; // not there: skipped
      }
    }
    if (named.length === 0) return BLKID_EXIT_NOTFOUND;
  }

  if (lowprobe) {
    if (named.length === 0) {
      await err(p, 'blkid: The low-level probing mode requires a device\n');
      return BLKID_EXIT_OTHER;
    }
    let out = '';
    let first = true;
    let rc = 0;
    for (const d of named) {
      let values: readonly BlkidValue[];
      try {
        values = (await blkidProbeDevice(p.sys, d, BLKID_FLAGS_LOWPROBE)).values;
      } catch (e) {
        if (!isErrno(e)) throw e;
        await p.stdout.write(out);
        out = '';
        await err(p, `blkid: error: ${d}: ${strerror(e.code)}\n`);
        rc = BLKID_EXIT_NOTFOUND;
        break;
      }
      if (values.length === 0) {
        rc = BLKID_EXIT_NOTFOUND;
        break;
      }
      out += printDevice(ctl, d, values, first);
      first = false;
    }
    await p.stdout.write(out);
    return rc;
  }

  // Classic API: probe (no cache file), keep the tags, print the matching devices.
  const all = named.length > 0 ? named : await partitionDevices(p.sys);
  const found: { dev: string; tags: BlkidValue[] }[] = [];
  for (const d of all) {
    try {
      const tags = blkidCacheTags((await blkidProbeDevice(p.sys, d, BLKID_FLAGS_CACHE)).values);
      if (tags.length > 0) found.push({ dev: d, tags });
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
  }
  const matching = found.filter((f) => !search || f.tags.some((t) => t.name === search.name && t.value === search.value));
  if (evaluate) {
    const hit = matching[0];
    if (!hit) return BLKID_EXIT_NOTFOUND;
    await p.stdout.write(`${hit.dev}\n`);
    return 0;
  }
  let out = '';
  let first = true;
  for (const f of matching) {
    const text = printDevice(ctl, f.dev, f.tags, first);
    if (text !== '') first = false;
    out += text;
  }
  await p.stdout.write(out);
  return matching.length > 0 ? 0 : BLKID_EXIT_NOTFOUND;
}

export const blkidEntry: CommandEntry = {
  name: 'blkid',
  paths: ['/sbin/blkid', '/usr/sbin/blkid', '/bin/blkid', '/usr/bin/blkid'],
  run: blkidMain,
};
