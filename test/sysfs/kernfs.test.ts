import { describe, expect, it } from 'vitest';
import { DirNode } from '../../src/kernel/fs.ts';
import { Errno } from '../../src/kernel/errno.ts';
import { Vfs } from '../../src/kernel/vfs.ts';
import type { KernelServices } from '../../src/kernel/vfs.ts';
import { O_RDONLY, O_WRONLY, O_CREAT } from '../../src/kernel/syscalls.ts';
import { createDir, createFile, createLink, relativePath, sysfsRoot } from '../../src/sysfs/kernfs.ts';

const svc: KernelServices = {
  time: () => 1_700_000_000,
  uptime: () => 1,
  sleep: async () => {},
  syslog: () => [],
  initModule: async () => {},
  deleteModule: async () => {},
  uname: () => ({ sysname: 'Linux', nodename: 'guest', release: '6.1.0', version: '#1', machine: 'x86_64' }),
};

function machine(): { vfs: Vfs; sys: DirNode } {
  const root = new DirNode('', 0o755, 0, 1);
  root.mkdir('sys');
  root.mkdir('tmp', 0o1777);
  const vfs = new Vfs(root, svc);
  const sys = sysfsRoot();
  (root.get('sys') as DirNode).mounted = sys;
  sys.mountpoint = root.get('sys') as DirNode;
  return { vfs, sys };
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('kernfs through the VFS', () => {
  it('computes relative link targets as sysfs writes them', () => {
    expect(relativePath('/sys/class/scsi_host', '/sys/devices/pci0000:00/0000:00:04.0/virtio0/host0/scsi_host/host0')).toBe(
      '../../devices/pci0000:00/0000:00:04.0/virtio0/host0/scsi_host/host0',
    );
    expect(relativePath('/sys/bus/scsi/devices', '/sys/devices/x/0:0:0:0')).toBe('../../../devices/x/0:0:0:0');
  });

  it('reads attributes through links, and realpath resolves them', async () => {
    const { vfs, sys } = machine();
    const host = createDir(createDir(createDir(sys, 'devices'), 'host0'), 'scsi_host');
    const h0 = createDir(host, 'host0');
    createFile(h0, { name: 'proc_name', mode: 0o444, show: () => 'virtio_scsi\n' });
    createLink(createDir(createDir(sys, 'class'), 'scsi_host'), 'host0', h0);
    const s = vfs.syscalls();
    expect(await s.readlink('/sys/class/scsi_host/host0')).toBe('../../devices/host0/scsi_host/host0');
    expect(await s.realpath('/sys/class/scsi_host/host0/proc_name')).toBe('/sys/devices/host0/scsi_host/host0/proc_name');
    const fd = await s.open('/sys/class/scsi_host/host0/proc_name', O_RDONLY);
    expect(text(await s.read(fd, 4096))).toBe('virtio_scsi\n');
    expect((await s.stat('/sys/class/scsi_host/host0/proc_name')).size).toBe(4096);
  });

  it('gives EACCES for reading a write-only attribute even to root, and store errors to the writer', async () => {
    const { vfs, sys } = machine();
    const stored: string[] = [];
    createFile(sys, {
      name: 'scan',
      mode: 0o200,
      store: (t) => {
        if (t !== '- - -\n') throw new Errno('EINVAL');
        stored.push(t);
      },
    });
    const s = vfs.syscalls();
    await expect(s.open('/sys/scan', O_RDONLY)).rejects.toMatchObject({ code: 'EACCES' });
    const fd = await s.open('/sys/scan', O_WRONLY);
    await expect(s.write(fd, new TextEncoder().encode('x y\n'))).rejects.toMatchObject({ code: 'EINVAL' });
    expect(await s.write(fd, new TextEncoder().encode('- - -\n'))).toBe(6);
    expect(stored).toEqual(['- - -\n']);
    // An unprivileged user may not write it at all.
    await s.withCred({ uid: 65534, gid: 65534 }, async (u) => {
      await expect(u.open('/sys/scan', O_WRONLY)).rejects.toMatchObject({ code: 'EACCES' });
    });
  });

  it('refuses to create files in sysfs, allows it in tmp, and detects link loops', async () => {
    const { vfs, sys } = machine();
    const s = vfs.syscalls();
    await expect(s.open('/sys/new', O_WRONLY | O_CREAT)).rejects.toMatchObject({ code: 'EACCES' });
    const fd = await s.open('/tmp/f', O_WRONLY | O_CREAT);
    await s.write(fd, new TextEncoder().encode('hi'));
    expect((await s.stat('/tmp/f')).size).toBe(2);
    await s.symlink('b', '/tmp/a');
    await s.symlink('a', '/tmp/b');
    await expect(s.stat('/tmp/a')).rejects.toMatchObject({ code: 'ELOOP' });
    expect(sys.size()).toBe(0);
  });
});

describe('relativePath', () => {
  it('names an ancestor target by going up past it, as kernfs does', () => {
    expect(relativePath('/sys/devices/v/host0/scsi_host/host0', '/sys/devices/v/host0')).toBe('../../../host0');
    expect(relativePath('/sys/devices/t/0:0:0:0/block/sda', '/sys/devices/t/0:0:0:0')).toBe('../../../0:0:0:0');
    expect(relativePath('/sys/devices/t/0:0:0:0', '/sys/devices/t/0:0:0:0/scsi_generic/sg0')).toBe('scsi_generic/sg0');
  });
});
