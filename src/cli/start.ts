// Ours: `npm start` — boots the seed paper's example machine (one virtio-scsi-pci, a 64 MiB raw
// scsi-hd at 0:0 and a small ISO on a scsi-cd at 0:1, both images made in memory) and shows it as
// the guest sees it: `lsscsi -g`, `ls -l /dev/disk/by-path`, and the controller's sysfs tree.

import { createMachine } from '../machine/machine.ts';
import type { Machine } from '../machine/machine.ts';
import { SEED_ARGS, seedImages } from '../machine/seed.ts';
import { S_IFDIR, S_IFLNK, S_IFMT } from '../kernel/syscalls.ts';

/** Prints a sysfs subtree: directories and links (with their targets), skipping power/ and attributes. */
async function tree(m: Machine, path: string, prefix = '', depth = 0): Promise<string> {
  if (depth > 7) return '';
  const entries = (await m.sys.readdir(path)).map((e) => e.name).sort();
  let out = '';
  const shown: Array<{ name: string; kind: 'dir' | 'link'; target?: string }> = [];
  for (const name of entries) {
    if (name === 'power' || name === 'subsystem' || name === 'driver') continue;
    const st = await m.sys.lstat(`${path}/${name}`);
    if ((st.mode & S_IFMT) === S_IFDIR) shown.push({ name, kind: 'dir' });
    else if ((st.mode & S_IFMT) === S_IFLNK) shown.push({ name, kind: 'link', target: await m.sys.readlink(`${path}/${name}`) });
  }
  for (const [i, e] of shown.entries()) {
    const last = i === shown.length - 1;
    out += `${prefix}${last ? '└── ' : '├── '}${e.name}${e.kind === 'link' ? ` -> ${e.target}` : '/'}\n`;
    if (e.kind === 'dir') out += await tree(m, `${path}/${e.name}`, prefix + (last ? '    ' : '│   '), depth + 1);
  }
  return out;
}

export async function start(write: (s: string) => void): Promise<number> {
  const created = await createMachine(SEED_ARGS, { hostFs: seedImages() });
  if (!('machine' in created)) {
    write(('error' in created ? created.error : created.help) + '\n');
    return 1;
  }
  const m = created.machine;
  write(`$ vscsi ${SEED_ARGS.join(' ')}\n`);
  await m.boot();
  for (const cmd of ['lsscsi -g', 'ls -l /dev/disk/by-path']) {
    const r = await m.guest(cmd);
    write(`# ${cmd}\n${r.stdout}${r.stderr}`);
  }
  const root = '/sys/devices/pci0000:00/0000:00:04.0';
  write(`# tree ${root}   (directories and links; attributes, power/ and driver links left out)\n${root}/\n`);
  write(await tree(m, root));
  return 0;
}

process.exitCode = await start((s) => process.stdout.write(s));
