// Ours: the library's entry point — build a machine from QEMU's argv, run guest and monitor lines,
// read the guest's /sys and /dev through its system calls.

export { Machine, createMachine, hostFileProbe } from './machine/machine.ts';
export type { CompletedLine, CreateResult, HostFs, LineOutput, MachineOptions, TraceEvent } from './machine/machine.ts';
export type { Syscalls, Stat, Dirent } from './kernel/syscalls.ts';
export { parseQemuArgs } from './host/vl.ts';
export type { MachineSpec } from './host/vl.ts';
export { SEED_ARGS, seedImages } from './machine/seed.ts';

// Host-side fault injection (docs/FAULTS.md): `machine.host.faults.add('target=0,opcode=0x28,action=busy')`.
export { FaultInjector, parseFaultRule, formatFaultRule, checkFaultRule } from './host/fault.ts';
export type { FaultRule, FaultRuleSpec, FaultMatch, FaultAction, FaultDirection, FaultInjection } from './host/fault.ts';
export type { QemuMachine, BlockIoThrottleArgs } from './host/machine.ts';

// Property tests of scan, rescan, hot-plug and unplug (README "Property-testing your own invariants").
export {
  runScsiProperty, ScsiCase, ScsiPropertyFailure, ScsiModel, arbTopology, arbPlan, arbScanForm, arbBadScanString, actionArbitraries,
  parseScanString, topologyArgv, topologyImages, observe, idleLeaks, actionLine,
} from './testkit/index.ts';
export type {
  Topology, ControllerSpec, LunSpec, Snapshot, ModelOptions, Action, StepContext, StepCheck, ScsiPropertyOptions, TopologyOptions, PlanOptions,
} from './testkit/index.ts';
