// A tape session on the whole machine: QEMU's side is our scsi-tape model, the guest's is st with
// mt-st and busybox tar — they meet only on the wire, so this checks the two halves agree.
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import type { HostFs, Machine } from '../../src/index.ts';
import { Volume } from 'memfs';

async function tapeMachine(): Promise<{ m: Machine; image: () => Uint8Array; hostFs: Volume }> {
  const hostFs = new Volume();
  hostFs.mkdirSync('/w');
  hostFs.writeFileSync('/w/t.tap', new Uint8Array(0));
  const r = await createMachine(
    ['-device', 'virtio-scsi-pci,id=scsi0', '-drive', 'if=none,id=t0,file=/w/t.tap,format=raw', '-device', 'scsi-tape,drive=t0,id=tape0'],
    { hostFs: hostFs as unknown as HostFs },
  );
  if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
  await r.machine.boot();
  return { m: r.machine, image: () => new Uint8Array(hostFs.readFileSync('/w/t.tap') as Buffer), hostFs };
}

describe('a tape session', () => {
  it('st attaches the drive with its nodes; tar writes an archive, mt moves over filemarks, tar reads it back', async () => {
    const { m, image } = await tapeMachine();
    expect((await m.guest('lsscsi -g')).stdout).toBe('[0:0:0:0]    tape    QEMU     QEMU TAPE        2.5+  /dev/st0   /dev/sg0 \n');
    expect((await m.guest('dmesg')).stdout).toMatch(/\] st 0:0:0:0: Attached scsi tape st0\n/);
    expect((await m.guest('stat -c "%t:%T %n" /dev/st0 /dev/nst0')).stdout).toBe('9:0 /dev/st0\n9:80 /dev/nst0\n');

    expect((await m.guest('echo one > /one; echo two > /two')).rc).toBe(0);
    expect((await m.guest('tar cf /dev/nst0 /one')).rc).toBe(0);
    expect((await m.guest('tar cf /dev/nst0 /two')).rc).toBe(0);
    // Two archives of one 10240-byte record each, on the host's image.
    const img = image();
    expect(img.length).toBeGreaterThan(2 * 10240);

    expect((await m.guest('mt -f /dev/nst0 rewind')).rc).toBe(0);
    expect((await m.guest('mt -f /dev/nst0 fsf 1')).rc).toBe(0);
    expect((await m.guest('mt -f /dev/nst0 status')).stdout).toContain('File number=1, block number=0, partition=0.\n');
    const listing = await m.guest('tar tf /dev/nst0');
    expect([listing.stdout, listing.rc]).toEqual(['two\n', 0]);

    expect((await m.guest('mt -f /dev/st0 rewind')).rc).toBe(0);
    expect((await m.guest('tar xOf /dev/st0')).stdout).toBe('one\n');
  });

  it('the host ejects the cartridge: the next open sees no medium; change loads another', async () => {
    const { m, hostFs } = await tapeMachine();
    expect((await m.monitor('eject t0')).stdout).toBe('');
    const empty = await m.guest('mt -f /dev/nst0 status');
    expect(empty.stdout).toContain('DR_OPEN');
    hostFs.writeFileSync('/w/u.tap', new Uint8Array(0));
    expect((await m.monitor('change t0 /w/u.tap raw')).stdout).toBe('');
    const st = await m.guest('mt -f /dev/nst0 status');
    expect(st.stdout).toContain('BOT ONLINE');
  });
});
