// Ours: the property-testing kit — topologies, plans of monitor and guest actions, the reference
// model and the runner — as the package exports it.

export { ScsiModel, parseScanString, sdName, lsscsiLine, linuxLunOf, qemuLunOf, sectorText } from './model.ts';
export type { ControllerSpec, Expectation, LunKind, LunSpec, ModelOptions, Snapshot, Topology } from './model.ts';
export { arbTopology, arbController, arbLunSpec, arbTarget, arbLun, arbKind, topologyArgv, topologyImages } from './topology.ts';
export type { TopologyOptions } from './topology.ts';
export { arbPlan, arbScanForm, arbBadScanString, actionArbitraries } from './commands.ts';
export type { KitCommand, KitModel, KitReal, PlanActionKind, PlanOptions, ScanForm } from './commands.ts';
export { actionLine, predict, runAction } from './actions.ts';
export type { Action } from './actions.ts';
export { observe, idleLeaks, dmaUse } from './observe.ts';
export { runScsiProperty, ScsiCase, ScsiPropertyFailure, reproScript } from './runner.ts';
export type { ScsiPropertyOptions, StepCheck, StepContext } from './runner.ts';
