// HMP commands with QEMU 7.2's syntax, output and error texts, over a host-only machine.
import { describe, expect, it } from 'vitest';
import { VIRTIO_SCSI_S_BAD_TARGET, VIRTIO_SCSI_S_OK } from '../../../src/protocol/virtio_scsi.ts';
import { MiB, bringUp, makeMachine, readEvents, untimed } from './setup.ts';

const ARGS =
  '-machine pc -m 512 -smp 2 -drive file=/w/disk0.img,if=none,format=raw,id=d0 -device virtio-scsi-pci,id=scsi0 ' +
  '-device scsi-hd,drive=d0,scsi-id=0,lun=0';
const IMAGES = { '/w/disk0.img': 64 * MiB, '/w/new.img': 16 * MiB, '/w/cd.iso': 2 * MiB, '/w/cd2.iso': 4 * MiB };
const TUR = [0, 0, 0, 0, 0, 0];
const READ_CAPACITY10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

describe('HMP', () => {
  it('help lists the commands sorted, `name params -- help`', () => {
    const r = makeMachine(ARGS, IMAGES);
    const out = r.mon.hmp('help').output.split('\n');
    expect(out[0]).toBe('__com.redhat_drive_add opts -- add drive (if=none implied)');
    expect(out).toContain('device_add driver[,prop=value][,...] -- add device, like -device on the command line');
    expect(out).toContain('c|cont  -- resume emulation');
    expect(out.indexOf('change device [-f] filename [format [read-only-mode]] -- change a removable medium, optional format, use -f to force the operation'))
      .toBeLessThan(out.indexOf('c|cont  -- resume emulation')); // strcmp order: "change" < "c|cont"
    expect(r.mon.hmp('help stop').output).toBe('stop  -- stop emulation\n');
    expect(r.mon.hmp('info').output).toContain('info status  -- show the current VM status (running|paused)\n');
  });

  it('refuses unknown commands and bad arguments with QEMU\'s texts', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.hmp('frobnicate')).toEqual({ output: "unknown command: 'frobnicate'\n", error: true });
    expect(r.mon.hmp('info frob')).toEqual({ output: "unknown command: 'info frob'\n", error: true });
    expect(r.mon.hmp('eject')).toEqual({ output: 'eject: block device name expected\nTry "help eject" for more information\n', error: true });
    expect(r.mon.hmp('device_del')).toEqual({ output: 'device_del: string expected\nTry "help device_del" for more information\n', error: true });
    expect(r.mon.hmp('block_resize d0 12x')).toEqual({ output: 'invalid size\nTry "help block_resize" for more information\n', error: true });
    expect(r.mon.hmp('stop now')).toEqual({ output: 'stop: extraneous characters at the end of line\nTry "help stop" for more information\n', error: true });
    expect(r.mon.hmp('')).toEqual({ output: '', error: false });
  });

  it('device_del / drive_del / eject / block_resize errors', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.hmp('device_del nope')).toEqual({ output: "Error: Device 'nope' not found\n", error: true });
    // drive_del used error_report in 7.2: no "Error: " prefix
    expect(r.mon.hmp('drive_del nope')).toEqual({ output: "Device 'nope' not found\n", error: true });
    expect(r.mon.hmp('eject d0')).toEqual({ output: "Error: Device 'd0' is not removable\n", error: true });
    expect(r.mon.hmp('eject nope')).toEqual({ output: "Error: Device 'nope' not found\n", error: true });
    expect(r.mon.hmp('block_resize nope 1G')).toEqual({ output: "Error: Cannot find device='nope' nor node-name=''\n", error: true });
    expect(r.mon.hmp('device_add scsi-hd,drive=d0')).toEqual({ output: "Error: Drive 'd0' is already in use by another device\n", error: true });
    expect(r.mon.hmp('device_add scsi-hd,drive=d0,id=scsi0')).toEqual({
      output: "Duplicate ID 'scsi0' for device\nTry \"help device_add\" for more information\n",
      error: true,
    });
  });

  it('drive_add + device_add hot-plug a LUN; device_del removes it and auto-deletes the drive', async () => {
    const r = makeMachine(ARGS, IMAGES);
    const bufs = await bringUp(r);
    expect(r.mon.hmp('drive_add 0 file=/w/new.img,if=none,format=raw,id=n1')).toEqual({ output: 'OK\n', error: false });
    expect(r.mon.hmp('drive_add 0 file=/w/new.img,if=none,format=raw,id=n1')).toEqual({
      output: "Duplicate ID 'n1' for drive\n",
      error: true,
    });
    expect(r.mon.hmp('drive_add 0 file=/w/missing.img,if=none,format=raw,id=n2')).toEqual({
      output: "Could not open '/w/missing.img': No such file or directory\n",
      error: true,
    });
    expect(r.mon.hmp('drive_add 0 file=/w/new.img,format=raw,id=n3')).toEqual({ output: "Can't hot-add drive to type 1\n", error: true });
    expect(r.mon.hmp('info block n1').output).toBe('n1 (#block003): /w/new.img (raw)\n    Removable device: not locked, tray closed\n    Cache mode:       writeback\n');
    expect(r.mon.hmp('device_add scsi-hd,drive=n1,id=hd1,scsi-id=0,lun=2')).toEqual({ output: '', error: false });
    await r.loop.runUntilIdle();
    expect(readEvents(r, bufs)).toEqual([{ event: 1, target: 0, lun: 2, reason: 1 }]);
    expect(r.mon.hmp('info block n1').output).toBe('n1 (#block003): /w/new.img (raw)\n    Attached to:      hd1\n    Cache mode:       writeback\n');
    const ok = await r.drv.doCommand(0, 2, [0x12, 0, 0, 0, 36, 0], undefined, 36);
    expect(ok?.response).toBe(VIRTIO_SCSI_S_OK);

    expect(r.mon.hmp('device_del hd1')).toEqual({ output: '', error: false });
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "DEVICE_DELETED", "data": {"device": "hd1", "path": "/machine/peripheral/hd1"}}']);
    await r.loop.runUntilIdle();
    expect(readEvents(r, bufs)).toEqual([{ event: 1, target: 0, lun: 2, reason: 2 }]);
    // a -drive/drive_add backend goes with its device
    expect(r.mon.hmp('info block n1').output).toBe('');
    expect(r.mon.hmp('drive_del n1')).toEqual({ output: "Device 'n1' not found\n", error: true });
    // LUN 2 is gone but target 0 still exists: the bus answers (UA 3F/0E first), no BAD_TARGET
    const gone = await r.drv.doCommand(0, 2, TUR);
    expect(gone?.response).toBe(VIRTIO_SCSI_S_OK);
    expect(gone?.status).toBe(2);
  });

  it('__com.redhat_drive_add implies if=none', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.hmp('__com.redhat_drive_add file=/w/new.img,format=raw,id=rh')).toEqual({ output: 'OK\n', error: false });
    expect(r.mon.hmp('info block rh').output).toContain('rh (#block003): /w/new.img (raw)\n');
  });

  it('drive_del on an attached drive leaves the device without medium', async () => {
    const r = makeMachine(ARGS, IMAGES);
    await bringUp(r);
    await r.drv.doCommand(0, 0, TUR);
    expect(r.mon.hmp('drive_del d0')).toEqual({ output: '', error: false });
    const res = await r.drv.doCommand(0, 0, TUR);
    // NOT READY, MEDIUM NOT PRESENT
    expect([res!.status, res!.sense[2], res!.sense[12]]).toEqual([2, 0x02, 0x3a]);
  });

  it('block_resize: size in MiB by default, PARAM_CHANGE event 2A/09, new capacity', async () => {
    const r = makeMachine(ARGS, IMAGES);
    const bufs = await bringUp(r);
    await r.drv.doCommand(0, 0, TUR);
    expect(r.mon.hmp('block_resize d0 128')).toEqual({ output: '', error: false });
    await r.loop.runUntilIdle();
    // event 3 = PARAM_CHANGE, reason = asc 0x2a | ascq 0x09 << 8
    expect(readEvents(r, bufs)).toEqual([{ event: 3, target: 0, lun: 0, reason: 0x092a }]);
    const ua = await r.drv.doCommand(0, 0, READ_CAPACITY10, undefined, 8);
    expect([ua!.sense[2], ua!.sense[12], ua!.sense[13]]).toEqual([6, 0x2a, 0x09]);
    const cap = await r.drv.doCommand(0, 0, READ_CAPACITY10, undefined, 8);
    // last LBA of 128 MiB in 512-byte blocks: 262143
    expect([...cap!.dataIn.subarray(0, 4)]).toEqual([0x00, 0x03, 0xff, 0xff]);
  });

  it('info status, version, qtree and pci', async () => {
    const r = makeMachine(ARGS, IMAGES);
    await bringUp(r);
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
    expect(r.mon.hmp('info version').output).toBe('7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n');
    const qtree = r.mon.hmp('info qtree').output;
    expect(qtree).toContain('        dev: virtio-scsi-pci, id "scsi0"\n          addr = 04.0\n');
    expect(qtree).toContain('              bus: scsi0.0\n                type SCSI\n                dev: scsi-hd, id ""\n                  drive = "d0"\n');
    const pci = r.mon.hmp('info pci').output;
    expect(pci).toContain(
      '  Bus  0, device   4, function 0:\n    SCSI controller: PCI device 1af4:1004\n      PCI subsystem 1af4:0008\n',
    );
    expect(pci).toContain('      BAR0: I/O at 0xc040 [0xc07f].\n');
    expect(pci).toContain('      id "scsi0"\n');
    expect(pci).toContain('  Bus  0, device   0, function 0:\n    Host bridge: PCI device 8086:1237\n');
  });

  it('a controller hot-plugged and unplugged through the guest\'s PCI hot-plug handler', async () => {
    const r = makeMachine(ARGS, IMAGES);
    const seen: string[] = [];
    let release: (() => void) | undefined;
    r.machine.pciHotplug = {
      plugged: (slot, fn) => seen.push(`plug ${slot}.${fn}`),
      unplugRequest: (slot, fn, rel) => {
        seen.push(`unplug ${slot}.${fn}`);
        release = rel;
      },
    };
    expect(r.mon.hmp('device_add virtio-scsi-pci,id=scsi1')).toEqual({ output: '', error: false });
    expect(r.mon.hmp('drive_add 0 file=/w/new.img,if=none,format=raw,id=n1').output).toBe('OK\n');
    expect(r.mon.hmp('device_add scsi-hd,drive=n1,bus=scsi1.0').output).toBe('');
    expect(seen).toEqual(['plug 5.0']);
    expect(r.machine.pci.has(5, 0)).toBe(true);
    expect(r.mon.qmp('{"execute": "device_del", "arguments": {"id": "scsi1"}}')).toEqual({ reply: '{"return": {}}', events: [] });
    expect(seen).toEqual(['plug 5.0', 'unplug 5.0']);
    expect(r.mon.hmp('device_del scsi1')).toEqual({ output: 'Error: Device scsi1 is already in the process of unplug\n', error: true });
    release!();
    expect(r.machine.pci.has(5, 0)).toBe(false);
    // the anonymous disk first (path only), then the controller
    expect(untimed(r.mon.drainEvents())).toEqual([
      '{"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral-anon/device[1]"}}',
      '{"event": "DEVICE_DELETED", "data": {"device": "scsi1", "path": "/machine/peripheral/scsi1"}}',
    ]);
    expect(r.mon.hmp('info block n1').output).toBe('');
  });

  it('scsi-cd: eject while locked asks the guest, eject -f empties the drive, change loads a medium', async () => {
    const r = makeMachine(
      '-machine pc -drive file=/w/cd.iso,if=none,media=cdrom,id=cd0 -device virtio-scsi-pci,id=scsi0 -device scsi-cd,drive=cd0,id=cdrom0,scsi-id=0,lun=1',
      IMAGES,
    );
    await bringUp(r);
    await r.drv.doCommand(0, 1, TUR);
    // PREVENT ALLOW MEDIUM REMOVAL (prevent)
    await r.drv.doCommand(0, 1, [0x1e, 0, 0, 0, 1, 0]);
    expect(r.mon.hmp('info block cd0').output).toContain('    Removable device: locked, tray closed\n');
    expect(r.mon.hmp('eject cd0')).toEqual({
      output: "Error: Device 'cd0' is locked and force was not specified, wait for tray to open and try again\n",
      error: true,
    });
    // GET EVENT STATUS NOTIFICATION (polled, media class): event 1 = eject requested
    const gesn = await r.drv.doCommand(0, 1, [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], undefined, 8);
    expect(gesn!.dataIn[4]).toBe(1);
    expect(r.mon.hmp('eject -f cd0')).toEqual({ output: '', error: false });
    // member order is QDict order (device, tray-open, id), as the writer puts it
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "DEVICE_TRAY_MOVED", "data": {"device": "cd0", "tray-open": true, "id": "cdrom0"}}']);
    expect(r.mon.hmp('info block cd0').output).toBe('cd0: [not inserted]\n    Attached to:      cdrom0\n    Removable device: not locked, tray open\n');
    // UNIT ATTENTION 3A/00 (medium not present) once, then NOT READY 3A/00
    const ua = await r.drv.doCommand(0, 1, TUR);
    expect([ua!.sense[2], ua!.sense[12]]).toEqual([6, 0x3a]);
    const empty = await r.drv.doCommand(0, 1, TUR);
    expect([empty!.sense[2], empty!.sense[12]]).toEqual([2, 0x3a]);
    expect(r.mon.hmp('change cd0 /w/cd2.iso raw')).toEqual({ output: '', error: false });
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "DEVICE_TRAY_MOVED", "data": {"device": "cd0", "tray-open": false, "id": "cdrom0"}}']);
    expect(r.mon.hmp('info block cd0').output).toMatch(/^cd0 \(#block\d+\): \/w\/cd2\.iso \(raw, read-only\)\n/);
    expect(r.mon.hmp('change cd0 /w/none.iso')).toEqual({ output: "Error: Could not open '/w/none.iso': No such file or directory\n", error: true });
  });

  it('a hot-plugged target that is removed answers BAD_TARGET', async () => {
    const r = makeMachine(ARGS, IMAGES);
    await bringUp(r);
    r.mon.hmp('drive_add 0 file=/w/new.img,if=none,format=raw,id=n1');
    r.mon.hmp('device_add scsi-hd,drive=n1,id=hd1,scsi-id=3');
    expect((await r.drv.doCommand(3, 0, TUR))?.response).toBe(VIRTIO_SCSI_S_OK);
    r.mon.hmp('device_del hd1');
    expect((await r.drv.doCommand(3, 0, TUR))?.response).toBe(VIRTIO_SCSI_S_BAD_TARGET);
  });
});
