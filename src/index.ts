// Ours: the library's entry point — build a machine from QEMU's argv, run guest and monitor lines,
// read the guest's /sys and /dev through its system calls.

export { Machine, createMachine, hostFileProbe } from './machine/machine.ts';
export type { CreateResult, HostFs, LineOutput, MachineOptions } from './machine/machine.ts';
export type { Syscalls, Stat, Dirent } from './kernel/syscalls.ts';
export { parseQemuArgs } from './host/vl.ts';
export type { MachineSpec } from './host/vl.ts';
export { SEED_ARGS, seedImages } from './machine/seed.ts';
