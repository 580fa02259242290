// Models drivers/base/devtmpfs.c (Linux 6.1): a device node appears in /dev when a device with a
// dev_t is added and disappears when it is removed; names with slashes (bsg/0:0:0:0) get their
// directories. Nodes are created 0600 root:root, as the captures show them.

import { DevNode, DirNode } from './fs.ts';
import type { DeviceModel } from '../sysfs/core.ts';

export function attachDevtmpfs(dm: DeviceModel, dev: DirNode, now: () => number): void {
  dm.onUevent((ev) => {
    const dt = ev.device.devt;
    if (!dt) return;
    const parts = dt.devname.split('/');
    const name = parts.pop()!;
    if (ev.action === 'add') {
      let dir = dev;
      for (const p of parts) dir = dir.mkdir(p, 0o755, now());
      if (dir.get(name)) return;
      dir.add(new DevNode(name, dt.kind === 'block' ? 'blk' : 'chr', dt.major, dt.minor, dt.mode ?? 0o600, now(), dev.dev));
    } else if (ev.action === 'remove') {
      let dir: DirNode | undefined = dev;
      for (const p of parts) {
        const next: unknown = dir?.get(p);
        dir = next instanceof DirNode ? next : undefined;
      }
      const node = dir?.get(name);
      if (node instanceof DevNode && node.major === dt.major && node.minor === dt.minor) dir!.remove(name);
    }
  });
}
