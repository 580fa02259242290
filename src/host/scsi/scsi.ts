// Models include/hw/scsi/scsi.h (QEMU 7.2): the contract between an HBA (virtio-scsi) and the SCSI bus.
// Nothing behind this interface knows anything about virtio.
//
// Flow (as QEMU's scsi_req_new / scsi_req_enqueue / scsi_req_complete):
//   1. The HBA asks the bus for a request: `bus.newRequest({ channel, id, lun, tag, cdb, hba })`.
//      `undefined` means no device answers that (channel, id) at all (virtio-scsi: BAD_TARGET).
//   2. The request has parsed its CDB: `req.xfer` bytes in direction `req.mode`. The HBA checks them
//      against its buffers (virtio-scsi: OVERRUN on mismatch) and either cancels or enqueues it.
//   3. `req.enqueue(sg)` starts it. Data moves only through `sg`, the HBA's scatter-gather view of
//      guest memory (the device "DMAs" into it); completion arrives later through `hba.complete`.
//   4. A request can be cancelled (TMF abort/reset, device unplug): `hba.cancelled(req)` instead.

export type XferMode = 'none' | 'from-dev' | 'to-dev';

/** SAM status codes. */
export const GOOD = 0x00;
export const CHECK_CONDITION = 0x02;
export const CONDITION_GOOD = 0x04;
export const BUSY = 0x08;
export const RESERVATION_CONFLICT = 0x18;
export const TASK_SET_FULL = 0x28;
export const ACA_ACTIVE = 0x30;
export const TASK_ABORTED = 0x40;

/** Host-side failure reasons (QEMU SCSIHostStatus), reported instead of a SCSI status. */
export type ScsiHostStatus =
  | 'no-lun'
  | 'busy'
  | 'time-out'
  | 'bad-response'
  | 'aborted'
  | 'error'
  | 'reset'
  | 'transport-disrupted'
  | 'target-failure'
  | 'reservation-error'
  | 'allocation-failure'
  | 'medium-error';

/** The HBA's scatter-gather list over guest memory (QEMUSGList). Offsets are within the data phase. */
export interface ScsiSgList {
  readonly size: number;
  /** Copies device data into the guest buffers at `offset` (data-in). */
  write(offset: number, src: Uint8Array, srcOffset?: number, length?: number): void;
  /** Copies guest data out of the buffers at `offset` into `dst` (data-out). */
  read(offset: number, dst: Uint8Array, dstOffset?: number, length?: number): void;
}

/** What the HBA provides to the bus (≈ SCSIBusInfo callbacks). */
export interface ScsiHba {
  /** The request finished with a SCSI status; `sense` holds `senseLen` valid bytes; `resid` = xfer − transferred. */
  complete(req: ScsiRequest, status: number, resid: number): void;
  /** The request failed in the host (no SCSI status): the HBA maps it to its own response code. */
  failed(req: ScsiRequest, reason: ScsiHostStatus): void;
  /** The request was cancelled (abort/reset/unplug); `reset` tells whether a reset caused it. */
  cancelled(req: ScsiRequest, reset: boolean): void;
}

export interface ScsiRequest {
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly tag: bigint;
  readonly cdb: Uint8Array;
  /** Bytes the CDB asks to transfer, and in which direction (parsed by the bus). */
  readonly xfer: number;
  readonly mode: XferMode;
  /** Sense data of a CHECK CONDITION (fixed format unless descriptor was asked for). */
  readonly sense: Uint8Array;
  readonly senseLen: number;
  /** Opaque slot for the HBA's own per-request state (QEMU's hba_private). */
  hbaPrivate: unknown;
  /** Starts execution; data moves through `sg`. */
  enqueue(sg: ScsiSgList | null): void;
  /** Cancels before or during execution (the HBA is told through `cancelled`). */
  cancel(reset: boolean): void;
}

export interface ScsiNewRequest {
  channel: number;
  id: number;
  lun: number;
  tag: bigint;
  cdb: Uint8Array;
  hba: ScsiHba;
}

/** What virtio-scsi needs from its bus. */
export interface ScsiBus {
  readonly maxChannel: number;
  readonly maxTarget: number;
  readonly maxLun: number;
  /** undefined: no device on (channel, id) — the HBA answers BAD_TARGET. */
  newRequest(r: ScsiNewRequest): ScsiRequest | undefined;
  /** The device at exactly (channel, id, lun), or else the first on (channel, id), as do_scsi_device_find. */
  findDevice(channel: number, id: number, lun: number): ScsiBusDevice | undefined;
  /** Every device with this channel and id (I_T_NEXUS_RESET). */
  devicesOn(channel: number, id: number): ScsiBusDevice[];
  /** scsi_bus_set_ua: a bus-wide unit attention (virtio-scsi: 3F/0E on hot-plug/unplug). */
  setBusUnitAttention?(sense: { readonly key: number; readonly asc: number; readonly ascq: number }): void;
  /** qbus_reset_all: cold reset of every device (virtio reset). */
  reset?(): void;
}

/** A device on the bus as the HBA sees it (for TMFs). */
export interface ScsiBusDevice {
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly qdevId: string | undefined;
  /** Peripheral device type (0 disk, 5 CD/DVD); virtio-scsi sends no PARAM_CHANGE for type 5. */
  readonly type?: number;
  /** The BlockBackend name of the device's drive, if it has one (fault rules match on it). */
  readonly driveName?: string | undefined;
  /** Outstanding requests, oldest first. */
  requests(): ScsiRequest[];
  /** Cold reset: outstanding requests cancelled with reset=true, UA 29/00 set. */
  reset(): void;
}
