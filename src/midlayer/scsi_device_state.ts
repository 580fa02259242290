// Models scsi_device_set_state / scsi_host_set_state (drivers/scsi/scsi_lib.c, hosts.c, Linux 6.1):
// the device and host state machines as data. Each table lists, for a new state, the states it may be
// entered from — the same shape as the kernel's switch statements.

export const SDEV_STATES = [
  'created',
  'running',
  'cancel',
  'deleted',
  'quiesce',
  'offline',
  'transport-offline',
  'blocked',
  'created-blocked',
] as const;
export type SdevState = (typeof SDEV_STATES)[number];

export const SDEV_ENTERED_FROM: Readonly<Record<SdevState, readonly SdevState[]>> = {
  created: ['created-blocked'],
  running: ['created', 'offline', 'transport-offline', 'quiesce', 'blocked'],
  quiesce: ['running', 'offline', 'transport-offline'],
  offline: ['created', 'running', 'quiesce', 'blocked'],
  'transport-offline': ['created', 'running', 'quiesce', 'blocked'],
  blocked: ['running', 'created-blocked', 'quiesce', 'offline'],
  'created-blocked': ['created'],
  cancel: ['created', 'running', 'quiesce', 'offline', 'transport-offline'],
  deleted: ['created', 'running', 'offline', 'transport-offline', 'cancel', 'blocked', 'created-blocked'],
};

/** True when `from → to` is legal (same state is a legal no-op). */
export function sdevTransitionAllowed(from: SdevState, to: SdevState): boolean {
  return from === to || SDEV_ENTERED_FROM[to].includes(from);
}

/** scsi_device_online(): false for offline, transport-offline and deleted. */
export function sdevOnline(state: SdevState): boolean {
  return state !== 'offline' && state !== 'transport-offline' && state !== 'deleted';
}

export const SHOST_STATES = ['created', 'running', 'cancel', 'deleted', 'recovery', 'cancel/recovery', 'deleted/recovery'] as const;
export type ShostState = (typeof SHOST_STATES)[number];

export const SHOST_ENTERED_FROM: Readonly<Record<ShostState, readonly ShostState[]>> = {
  created: [],
  running: ['created', 'recovery'],
  recovery: ['running'],
  cancel: ['created', 'running', 'cancel/recovery'],
  deleted: ['cancel', 'deleted/recovery'],
  'cancel/recovery': ['cancel', 'recovery'],
  'deleted/recovery': ['cancel/recovery'],
};

export function shostTransitionAllowed(from: ShostState, to: ShostState): boolean {
  return from === to || SHOST_ENTERED_FROM[to].includes(from);
}
