// Layout of the virtio 1.x split virtqueue (virtio v1.2 §2.7 "Split Virtqueues"; Linux
// include/uapi/linux/virtio_ring.h). Offsets and flags only: both sides import this, neither trusts the other.

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** struct virtq_desc: le64 addr, le32 len, le16 flags, le16 next. */
export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_DESC_ADDR = 0;
export const VIRTQ_DESC_LEN = 8;
export const VIRTQ_DESC_FLAGS = 12;
export const VIRTQ_DESC_NEXT = 14;

/** struct virtq_avail: le16 flags, le16 idx, le16 ring[N], le16 used_event. */
export const VIRTQ_AVAIL_FLAGS = 0;
export const VIRTQ_AVAIL_IDX = 2;
export const VIRTQ_AVAIL_RING = 4;
export const availRingEntry = (i: number): number => VIRTQ_AVAIL_RING + 2 * i;
export const availUsedEvent = (num: number): number => VIRTQ_AVAIL_RING + 2 * num;
export const availSize = (num: number): number => 6 + 2 * num;

/** struct virtq_used: le16 flags, le16 idx, {le32 id, le32 len} ring[N], le16 avail_event. */
export const VIRTQ_USED_FLAGS = 0;
export const VIRTQ_USED_IDX = 2;
export const VIRTQ_USED_RING = 4;
export const VIRTQ_USED_ELEM_SIZE = 8;
export const usedRingEntry = (i: number): number => VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * i;
export const usedAvailEvent = (num: number): number => VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * num;
export const usedSize = (num: number): number => 6 + 8 * num;

/** Largest queue the spec allows; QEMU's own limit is VIRTQUEUE_MAX_SIZE = 1024. */
export const VIRTQ_MAX_SIZE = 32768;

/**
 * vring_need_event (virtio v1.2 §2.7.10): true when moving the index from `old` to `newIdx` crossed
 * `eventIdx`. All arithmetic is modulo 2^16.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, old: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

/** Legacy/Linux contiguous layout (vring_size in virtio_ring.h): bytes needed for N entries at `align`. */
export function vringSize(num: number, align: number): number {
  const usedOff = alignUp(VIRTQ_DESC_SIZE * num + availSize(num), align);
  return usedOff + usedSize(num);
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
