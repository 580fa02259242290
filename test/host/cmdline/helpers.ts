// Ours: a FileProbe over an in-memory table, and argv helpers for the command-line tests.
import type { FileProbe, HostFile } from '../../../src/host/blockdev.ts';
import { parseQemuArgs } from '../../../src/host/vl.ts';
import type { MachineSpec } from '../../../src/host/vl.ts';

export function fakeFs(files: Record<string, Partial<HostFile> & { size: number }>): FileProbe {
  return {
    probe: (p) => {
      const f = files[p];
      if (!f) return undefined;
      return { kind: f.kind ?? 'regular', size: f.size, head: f.head ?? new Uint8Array(512), sgio: f.sgio ?? false };
    },
  };
}

export const FS = fakeFs({
  '/w/disk.img': { size: 64 << 20 },
  '/w/disk0.img': { size: 64 << 20 },
  '/w/disk1.img': { size: 64 << 20 },
  '/w/cd.iso': { size: 376832 },
  '/w/raw.qcow2': { size: 16 << 20 },
  '/w/real.qcow2': { size: 16 << 20, head: new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]) },
  '/w/dir': { size: 4096, kind: 'directory' },
  '/dev/sdb': { size: 1 << 30, kind: 'block-device', sgio: true },
  '/dev/sdz': { size: 1 << 30, kind: 'block-device', sgio: false },
});

/** Splits a shell-like string on spaces (no quoting needed by these tests). */
export const args = (s: string): string[] => s.split(' ').filter((x) => x !== '');

export function ok(argv: string[]): { spec: MachineSpec; warnings: readonly string[] } {
  const r = parseQemuArgs(argv, FS);
  if (!('spec' in r)) throw new Error(`expected success, got ${JSON.stringify(r)}`);
  return r;
}

export function err(argv: string[]): { error: string; warnings: readonly string[] } {
  const r = parseQemuArgs(argv, FS);
  if (!('error' in r)) throw new Error(`expected an error, got ${'help' in r ? 'help' : 'success'}`);
  return r;
}
