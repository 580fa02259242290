import { describe, expect, it } from 'vitest';
import { IrqController, formatIrqLine, irqPrecision, procInterruptsHeader } from '../../src/kernel/irq.ts';
import { boot } from '../virtio/harness.ts';

// From golden seed_single_disk, snapshots.boot.commands.proc_interrupts.stdout (the virtio lines).
const GOLDEN_HEADER = '           CPU0       CPU1       ';
const GOLDEN_VIRTIO = [
  ' 24:          0          0   PCI-MSI 65536-edge      virtio0-config',
  ' 25:          0          0   PCI-MSI 65537-edge      virtio0-control',
  ' 26:          0          0   PCI-MSI 65538-edge      virtio0-event',
  ' 27:        273          0   PCI-MSI 65539-edge      virtio0-request',
  ' 28:          0         66   PCI-MSI 65540-edge      virtio0-request',
];
// golden hotplug_event, snapshot "plugged": the event vector fires on CPU1.
const GOLDEN_EVENT_ON_CPU1 = ' 26:          0          1   PCI-MSI 65538-edge      virtio0-event';

describe('/proc/interrupts', () => {
  it('formats the header like the capture', () => {
    expect(procInterruptsHeader(2)).toBe(GOLDEN_HEADER);
    expect(irqPrecision(512)).toBe(3);
    expect(irqPrecision(1000)).toBe(4);
  });

  it('formats an IO-APIC line like the capture', () => {
    const line = formatIrqLine({ irq: 9, chip: 'IO-APIC', hwirq: 9, flow: 'fasteoi', cpu: 0, vector: 0x21, actions: ['acpi'], counts: [0, 0] });
    expect(line).toBe('  9:          0          0   IO-APIC   9-fasteoi   acpi');
  });

  it('shows the virtio-scsi MSI-X vectors with names, hwirqs and per-CPU counts as captured', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    // The device raises each request vector; request queue 0 is pinned to CPU0, queue 1 to CPU1.
    for (let i = 0; i < 273; i++) f.sendVector(3);
    for (let i = 0; i < 66; i++) f.sendVector(4);
    expect(b.irq.showInterrupts()).toEqual(GOLDEN_VIRTIO);
    f.sendVector(2);
    expect(b.irq.showInterrupts()[2]).toBe(GOLDEN_EVENT_ON_CPU1);
  });

  it('names a second controller virtio1-* with hwirqs from 00:05.0 (golden seed_two_buses)', async () => {
    const b = await boot({ slots: [4, 5] });
    const lines = b.irq.showInterrupts();
    expect(lines[5]).toBe(' 29:          0          0   PCI-MSI 81920-edge      virtio1-config');
    expect(lines[9]).toBe(' 33:          0          0   PCI-MSI 81924-edge      virtio1-request');
  });

  it('counts a message that matches no vector as spurious, and frees irq numbers for reuse', () => {
    const irq = new IrqController({ nrCpus: 1 });
    const a = irq.allocMsi({ chip: 'PCI-MSI', hwirq: 0 });
    const b = irq.allocMsi({ chip: 'PCI-MSI', hwirq: 1 });
    expect([a.irq, b.irq]).toEqual([24, 25]);
    irq.msi(0xfee00000, 0xee);
    expect(irq.spurious).toBe(1);
    irq.freeIrqDesc(24);
    expect(irq.allocMsi({ chip: 'PCI-MSI', hwirq: 2 }).irq).toBe(24);
  });
});

describe('/proc/interrupts: the whole file', () => {
  it('merges platform irqs and MSI irqs in irq order between the header and the arch lines', () => {
    const irq = new IrqController({ nrCpus: 2 });
    irq.registerPlatformIrq({ irq: 0, chip: 'IO-APIC', hwirq: 2, flow: 'edge', name: 'timer', counts: [111, 0] });
    const { irq: n } = irq.allocMsi({ chip: 'PCI-MSI', hwirq: 65536, cpu: 0 });
    irq.requestIrq(n, () => {}, 'virtio0-config');
    irq.archLines = () => ['NMI:          0          0   Non-maskable interrupts'];
    // lines copied from golden seed_single_disk /proc/interrupts
    expect(irq.show()).toBe(
      '           CPU0       CPU1       \n' +
        '  0:        111          0   IO-APIC   2-edge      timer\n' +
        ' 24:          0          0   PCI-MSI 65536-edge      virtio0-config\n' +
        'NMI:          0          0   Non-maskable interrupts\n',
    );
  });
});
