// blkdebug (block/blkdebug.c) under a scsi-hd: the error_injection golden's configuration — EIO on
// reads touching sector 65536 — reaches the guest as CHECK CONDITION ABORTED COMMAND / I/O PROCESS
// TERMINATED (b/00/06) with rerror=report, with one BLOCK_IO_ERROR per failure.
import { describe, expect, it } from 'vitest';
import { Volume } from 'memfs';
import type { BlockIoErrorEvent } from '../../../src/host/block/block-backend.ts';
import {
  BlkdebugState,
  installBlkdebug,
  parseBlkdebugConfig,
  parseBlkdebugFilename,
  type BlkdebugRule,
} from '../../../src/host/block/blkdebug.ts';
import { driveNew, type FileProbe } from '../../../src/host/blockdev.ts';
import { clearUa, hex, makeFaultRig, rw10 } from './setup.ts';

// The golden's two config files (files[].text of error_injection.json).
const REPORT_CONF = '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "65536"\nonce = "off"\n';
const STOP_CONF = '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "65536"\nonce = "on"\n';

function rules(text: string): BlkdebugRule[] {
  const r = parseBlkdebugConfig(text, '/w/x.conf');
  if ('error' in r) throw new Error(r.error);
  return r;
}

function blkdebugRig(conf: string, rerror: 'report' | 'stop' = 'report') {
  const r = makeFaultRig({ d0: { rerror, werror: rerror } });
  const events: BlockIoErrorEvent[] = [];
  r.d0.blk.onIoError = (e) => events.push(e);
  const state = installBlkdebug(r.d0.blk, { rules: rules(conf), formatAbove: true });
  return { ...r, events, state };
}

describe('blkdebug config and filename', () => {
  it('parses the golden config into one read_aio rule', () => {
    expect(rules(REPORT_CONF)).toEqual([
      {
        kind: 'inject-error', event: 'read_aio', state: 0, errno: 5, sector: 65536, once: false, immediately: false,
        iotypes: ['read', 'write', 'write-zeroes', 'discard', 'flush'],
      },
    ]);
    expect(rules(STOP_CONF)[0]).toMatchObject({ once: true });
  });

  it('reads `key=value` without spaces as QEMU does: the whole word is an unknown key', () => {
    expect(parseBlkdebugConfig('[inject-error]\nevent="read_aio"\n', '/w/b.conf')).toEqual({
      error: 'Could not parse blkdebug config file',
      reports: ['/w/b.conf:2: Invalid parameter \'event="read_aio"\''],
    });
    expect(parseBlkdebugConfig('[nonsense]\n', '/w/b.conf')).toMatchObject({ reports: ["/w/b.conf:1: There is no option group 'nonsense'"] });
    expect(parseBlkdebugConfig('event = "read_aio"\n', '/w/b.conf')).toMatchObject({ reports: ['/w/b.conf:1: no group defined'] });
    expect(parseBlkdebugConfig('[inject-error]\nevent = "bogus"\n', '/w/b.conf')).toEqual({ error: 'invalid parameter value: bogus', reports: [] });
    expect(parseBlkdebugConfig('[inject-error]\nerrno = "5"\n', '/w/b.conf')).toEqual({ error: 'Missing event name for rule', reports: [] });
  });

  it('splits blkdebug:CONF:IMG, with an empty CONF allowed', () => {
    expect(parseBlkdebugFilename('blkdebug:/w/r.conf:/w/d.img')).toEqual({ config: '/w/r.conf', image: '/w/d.img' });
    expect(parseBlkdebugFilename('blkdebug::/w/d.img')).toEqual({ config: undefined, image: '/w/d.img' });
    expect(parseBlkdebugFilename('blkdebug:/w/r.conf')).toMatchObject({ error: 'blkdebug requires both config file and image path' });
  });

  it('set-state rules gate inject-error rules by state', () => {
    const s = new BlkdebugState(
      rules('[set-state]\nevent = "write_aio"\nstate = "1"\nnew_state = "2"\n[inject-error]\nevent = "read_aio"\nstate = "2"\n'),
    );
    expect(s.check('read', 0, 512)).toBeNull(); // state 1: the rule is not active
    expect(s.check('write', 0, 512)).toBeNull(); // → state 2
    expect(s.state).toBe(2);
    expect(s.check('read', 0, 512)).toBe('EIO'); // no sector: every read fails now
  });
});

describe('blkdebug under scsi-hd', () => {
  it('EIO at sector 65536 with rerror=report: CHECK CONDITION b/00/06 each time, one BLOCK_IO_ERROR each', async () => {
    const r = blkdebugRig(REPORT_CONF);
    await clearUa(r);
    const ok = await r.drv.doCommand(0, 0, rw10(0x28, 60000, 8), undefined, 4096);
    expect([ok?.response, ok?.status]).toEqual([0, 0]);
    for (let i = 0; i < 2; i++) {
      const c = await r.drv.doCommand(0, 0, rw10(0x28, 65536, 8), undefined, 4096);
      expect([c?.response, c?.status]).toEqual([0, 2]);
      expect(hex(c!.sense.subarray(0, 3))).toBe('70 00 0b'); // fixed, current, ABORTED COMMAND
      expect(hex(c!.sense.subarray(12, 14))).toBe('00 06'); // I/O PROCESS TERMINATED
    }
    expect(events(r)).toEqual([
      { device: 'd0', nodeName: undefined, operation: 'read', action: 'report', reason: 'Input/output error' },
      { device: 'd0', nodeName: undefined, operation: 'read', action: 'report', reason: 'Input/output error' },
    ]);
    // A read that does not contain sector 65536 is not failed.
    expect((await r.drv.doCommand(0, 0, rw10(0x28, 65537, 8), undefined, 4096))?.status).toBe(0);
  });

  it('once=on: only the first read fails', async () => {
    const r = blkdebugRig(STOP_CONF);
    await clearUa(r);
    expect((await r.drv.doCommand(0, 0, rw10(0x28, 65536, 1), undefined, 512))?.status).toBe(2);
    expect((await r.drv.doCommand(0, 0, rw10(0x28, 65536, 1), undefined, 512))?.status).toBe(0);
    expect(r.state.rules).toEqual([]);
  });

  it('a read_aio rule is armed by the first read and then fails writes too (default iotypes)', async () => {
    const r = blkdebugRig(REPORT_CONF);
    await clearUa(r);
    const data = new Uint8Array(512).fill(1);
    expect((await r.drv.doCommand(0, 0, rw10(0x2a, 65536, 1), data))?.status).toBe(0); // nothing armed yet
    await r.drv.doCommand(0, 0, rw10(0x28, 0, 1), undefined, 512); // fires read_aio
    expect((await r.drv.doCommand(0, 0, rw10(0x2a, 65536, 1), data))?.status).toBe(2);
  });
});

function events(r: { events: BlockIoErrorEvent[] }): BlockIoErrorEvent[] {
  return r.events.map((e) => ({ ...e }));
}

describe('-drive with blkdebug', () => {
  const vol = Volume.fromJSON({ '/w/report.conf': REPORT_CONF, '/w/bad.conf': '[inject-error]\nevent=read_aio\n' });
  vol.writeFileSync('/w/disk.img', new Uint8Array(1 << 20));
  const fs: FileProbe = {
    probe(path) {
      if (!vol.existsSync(path)) return undefined;
      const st = vol.statSync(path);
      const data = st.isDirectory() ? new Uint8Array(0) : new Uint8Array(vol.readFileSync(path) as Uint8Array);
      return { kind: st.isDirectory() ? 'directory' : 'regular', size: Number(st.size), head: data.subarray(0, 512), sgio: false };
    },
  };
  const drive = (opts: Array<[string, string]>, id = 'drep') =>
    driveNew({ list: 'drive', id, opts: opts.map(([name, value]) => ({ name, value })) }, { ids: new Set(), noneUnits: new Set() }, fs);

  it('file=blkdebug:CONF:IMG opens IMG with the rules, the format node above firing events', () => {
    const r = drive([['file', 'blkdebug:/w/report.conf:/w/disk.img'], ['if', 'none'], ['format', 'raw'], ['rerror', 'report']]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.drive.file).toBe('/w/disk.img');
    expect(r.drive.blkdebug).toMatchObject({
      filename: 'blkdebug:/w/report.conf:/w/disk.img', configPath: '/w/report.conf', image: '/w/disk.img', formatAbove: true,
    });
    expect(r.drive.blkdebug?.rules).toHaveLength(1);
  });

  it('driver=blkdebug,config=…,file=IMG takes inject-error.N.key options too', () => {
    const r = drive([['driver', 'blkdebug'], ['config', '/w/report.conf'], ['file', '/w/disk.img'], ['inject-error.0.event', 'none'], ['inject-error.0.errno', '28']]);
    expect(r.ok && r.drive.blkdebug?.rules.map((x) => x.event)).toEqual(['read_aio', 'none']);
    expect(r.ok && r.drive.blkdebug?.formatAbove).toBe(false);
  });

  it('refuses a missing or unparsable config file with QEMU’s texts', () => {
    const missing = drive([['file', 'blkdebug:/w/nope.conf:/w/disk.img'], ['format', 'raw']]);
    expect(!missing.ok && missing.error.message).toBe('Could not read blkdebug config file: No such file or directory');
    const bad = drive([['file', 'blkdebug:/w/bad.conf:/w/disk.img'], ['format', 'raw']]);
    expect(!bad.ok && [bad.error.message, bad.reports]).toEqual([
      'Could not parse blkdebug config file',
      ["/w/bad.conf:2: Invalid parameter 'event=read_aio'"],
    ]);
  });
});
