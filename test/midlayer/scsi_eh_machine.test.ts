// The error handler seen from the guest's userland, through the whole machine (QEMU model + guest):
// dmesg lines, errno and sysfs state against the captures (error_injection, eh_resets,
// eh_timeout_abort) and the experiment knob virtio_scsi.eh_timed_out.
import { describe, expect, it } from 'vitest';
import { Volume } from 'memfs';
import { createMachine } from '../../src/index.ts';
import type { Machine } from '../../src/index.ts';
import type { HostFs } from '../../src/machine/machine.ts';

function images(conf?: string): HostFs {
  const vol = new Volume();
  vol.mkdirSync('/w');
  vol.writeFileSync('/w/disk.img', new Uint8Array(0));
  vol.truncateSync('/w/disk.img', 64 * 1024 * 1024);
  if (conf !== undefined) vol.writeFileSync('/w/bd.conf', conf);
  return vol as unknown as HostFs;
}

async function machine(extra: string[], drive: string, conf?: string): Promise<Machine> {
  const argv = ['-machine', 'pc', '-m', '512', '-smp', '2', ...extra, '-drive', drive, '-device', 'virtio-scsi-pci,id=scsi0', '-device', 'scsi-hd,drive=d0,scsi-id=0,lun=0'];
  const r = await createMachine(argv, { hostFs: images(conf) });
  if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
  await r.machine.boot();
  return r.machine;
}

/** dmesg lines without their timestamps, tags normalised (the captures' tags vary run to run). */
async function dmesg(m: Machine): Promise<string[]> {
  const out = (await m.guest('dmesg')).stdout;
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\[[ \d.]+\] /, '').replace(/tag#\d+/, 'tag#N'));
}

describe('error handling seen by the guest', () => {
  it('blkdebug EIO under rerror=report: six READs, then sd/block lines and EIO as captured (error_injection)', async () => {
    const conf = '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "65536"\n';
    const m = await machine([], 'file=blkdebug:/w/bd.conf:/w/disk.img,if=none,format=raw,rerror=report,werror=report,id=d0', conf);
    const before = Number((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/iorequest_cnt')).stdout);
    const dd = await m.guest('dd if=/dev/sda of=/dev/null bs=512 skip=65536 count=8 iflag=direct; echo dd_rc=$?');
    expect([dd.stdout, dd.stderr]).toEqual(['dd_rc=1\n', 'dd: /dev/sda: Input/output error\n']);
    const after = Number((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/iorequest_cnt')).stdout);
    // 1 + 5 retries (ABORTED COMMAND is retried), no reset, no EH.
    expect(after - before).toBe(6);
    // The golden's dmesg tail (tags normalised).
    expect((await dmesg(m)).slice(-5)).toEqual([
      'sd 0:0:0:0: [sda] tag#N FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'sd 0:0:0:0: [sda] tag#N Sense Key : Aborted Command [current] ',
      'sd 0:0:0:0: [sda] tag#N Add. Sense: I/O process terminated',
      'sd 0:0:0:0: [sda] tag#N CDB: Read(10) 28 00 00 01 00 00 00 00 01 00',
      'I/O error, dev sda, sector 65536 op 0x0:(READ) flags 0x800 phys_seg 1 prio class 2',
    ]);
    expect((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/state')).stdout).toBe('running\n');
  });

  it('a device reset (SG_SCSI_RESET): `device reset`, then the next command\'s UA is reported and retried transparently (eh_resets)', async () => {
    const m = await machine([], 'file=/w/disk.img,if=none,format=raw,id=d0');
    const r = await m.guest('sg_reset -d /dev/sg0; echo rc=$?');
    expect(r.stdout).toBe('rc=0\n');
    const dd = await m.guest('dd if=/dev/sda of=/dev/null bs=4096 count=1 iflag=direct; echo dd_rc=$?');
    expect(dd.stdout).toBe('dd_rc=0\n');
    expect((await dmesg(m)).slice(-2)).toEqual(['sd 0:0:0:0: device reset', 'sd 0:0:0:0: Power-on or device reset occurred']);
  });

  it('Linux\'s eh_timed_out: a held read only re-arms its timer — no abort, iotmo_cnt counts (eh_timeout_abort)', async () => {
    const m = await machine(['-fault', 'drive=d0,opcode=0x28,lba=5000,action=delay,delay=7s'], 'file=/w/disk.img,if=none,format=raw,id=d0');
    expect((await m.guest('ls /sys/module/virtio_scsi/parameters')).rc).not.toBe(0);
    expect((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/timeout /sys/block/sda/queue/io_timeout')).stdout).toBe('30\n30000\n');
    await m.guest('echo 2 > /sys/bus/scsi/devices/0:0:0:0/timeout');
    // One request-queue timeout, two views of it (q->rq_timeout).
    expect((await m.guest('cat /sys/block/sda/queue/io_timeout')).stdout).toBe('2000\n');
    const dd = await m.guest('dd if=/dev/sda of=/dev/null bs=512 skip=5000 count=1 iflag=direct; echo dd_rc=$?');
    expect(dd.stdout).toBe('dd_rc=0\n');
    // blk_add_timer sets the queue's timer to the deadline plus blk_round_jiffies' 256 jiffies (1.024 s
    // at HZ=250): expiries at 3.024 s and 6.048 s of the 7 s read — as the capture's 8 s reads give 2 each.
    expect((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/iotmo_cnt')).stdout).toBe('0x2\n');
    expect((await dmesg(m)).some((l) => l.endsWith(' abort') || l.endsWith(': device reset'))).toBe(false);
  });

  it('virtio_scsi.eh_timed_out=generic (ours): the timed-out read is aborted (ABORT TASK) and retried; the knob is rw in sysfs', async () => {
    const m = await machine(['-append', 'virtio_scsi.eh_timed_out=generic', '-fault', 'drive=d0,opcode=0x28,lba=5000,action=hang,count=1'], 'file=/w/disk.img,if=none,format=raw,id=d0');
    const p = '/sys/module/virtio_scsi/parameters/eh_timed_out';
    expect((await m.guest(`cat ${p}`)).stdout).toBe('generic\n');
    await m.guest('echo 2 > /sys/bus/scsi/devices/0:0:0:0/timeout');
    await m.guest('dd if=/dev/sda of=/dev/null bs=512 skip=5000 count=1 iflag=direct > /tmp/dd.out 2>&1; echo $? > /tmp/dd.rc &');
    await m.guest('sleep 5');
    expect((await m.guest('cat /tmp/dd.rc')).stdout).toBe('0\n');
    expect((await dmesg(m)).slice(-1)).toEqual(['sd 0:0:0:0: [sda] tag#N abort']);
    expect((await m.guest('cat /sys/bus/scsi/devices/0:0:0:0/state /sys/class/scsi_host/host0/state')).stdout).toBe('running\nrunning\n');
    expect((await m.guest(`echo reset-timer > ${p}; cat ${p}`)).stdout).toBe('reset-timer\n');
    const bad = await m.guest(`echo sometimes > ${p}`);
    expect([bad.stderr, bad.rc]).toEqual(['sh: write error: Invalid argument\n', 1]);
  });

  it('a LOGICAL UNIT RESET that is never answered hangs scsi_eh_0; the hung-task report appears after 120 s of virtual time', async () => {
    const m = await machine(
      ['-append', 'virtio_scsi.eh_timed_out=generic', '-fault', 'drive=d0,opcode=0x28,lba=5000,action=hang', '-fault', 'target=0,tmf=abort,action=tmf-fail', '-fault', 'target=0,tmf=lun-reset,action=tmf-hang'],
      'file=/w/disk.img,if=none,format=raw,id=d0',
    );
    await m.guest('echo 2 > /sys/bus/scsi/devices/0:0:0:0/timeout');
    await m.guest('dd if=/dev/sda of=/dev/null bs=512 skip=5000 count=1 iflag=direct &');
    await m.guest('sleep 250');
    const lines = await dmesg(m);
    const i = lines.findIndex((l) => l.startsWith('INFO: task scsi_eh_0:'));
    expect(i).toBeGreaterThan(0);
    expect(lines.slice(i - 2, i)).toEqual(['sd 0:0:0:0: [sda] tag#N abort', 'sd 0:0:0:0: device reset']);
    expect(lines[i]).toMatch(/^INFO: task scsi_eh_0:\d+ blocked for more than 120 seconds\.$/);
    expect(lines[i + 2]).toBe('"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.');
    expect(lines[i + 3]).toMatch(/^task:scsi_eh_0 {7}state:D stack:0 {5}pid:\d+ +ppid:2 {6}flags:0x00004000$/);
    expect(lines).toContain(' virtscsi_tmf+0xa5/0x130 [virtio_scsi]');
    expect((await m.guest('cat /sys/class/scsi_host/host0/state')).stdout).toBe('recovery\n');
  });
});
