import { describe, expect, it } from 'vitest';
import { KERN, KernelLog, formatTimestamp } from '../../src/kernel/printk.ts';
import { EventLoop } from '../../src/sim/event_loop.ts';

describe('printk / dmesg', () => {
  it('renders records as dmesg does, timestamps from the virtual clock', async () => {
    const loop = new EventLoop();
    const log = new KernelLog(loop);
    await loop.advance(8_856_875_123);
    log.printk(KERN.INFO, 'scsi host0: Virtio SCSI HBA\n');
    // golden seed_single_disk dmesg line
    expect(log.dmesg()).toBe('[    8.856875] scsi host0: Virtio SCSI HBA\n');
    expect(log.records[0]).toMatchObject({ seq: 0, level: 6, timeNs: 8_856_875_123 });
  });

  it('pads seconds to five columns and grows past them', () => {
    expect(formatTimestamp(0)).toBe('[    0.000000]');
    expect(formatTimestamp(123_456_789_000_000)).toBe('[123456.789000]');
  });

  it('splits multi-line text into records and notifies listeners', () => {
    const log = new KernelLog(new EventLoop());
    const seen: string[] = [];
    const off = log.subscribe((r) => seen.push(`${r.level}:${r.text}`));
    log.printk(KERN.ERR, 'a\nb');
    off();
    log.printk(KERN.ERR, 'c');
    expect(seen).toEqual(['3:a', '3:b']);
    expect(log.records.map((r) => r.seq)).toEqual([0, 1, 2]);
  });
});
