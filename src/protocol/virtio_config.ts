// Device status and feature bits (virtio v1.2 §2.1, §6; Linux include/uapi/linux/virtio_config.h).

export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
export const VIRTIO_CONFIG_S_DRIVER = 2;
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
export const VIRTIO_CONFIG_S_FAILED = 0x80;

export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
export const VIRTIO_F_ANY_LAYOUT = 27;
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_BAD_FEATURE = 30;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;
export const VIRTIO_F_ORDER_PLATFORM = 36;
export const VIRTIO_F_SR_IOV = 37;
export const VIRTIO_F_NOTIFICATION_DATA = 38;
export const VIRTIO_F_RING_RESET = 40;

export const VIRTIO_ID_SCSI = 8;
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;

/** 1n << n for every bit of a 64-bit feature set, built once: feature tests sit on the I/O path. */
const BITS: readonly bigint[] = Array.from({ length: 64 }, (_, n) => 1n << BigInt(n));
/** Feature sets are 64-bit: kept as bigint so bit 32+ (VERSION_1, RING_RESET) are exact. */
export const bit = (n: number): bigint => (n >= 0 && n < 64 ? BITS[n]! : 1n << BigInt(n));
export const hasBit = (features: bigint, n: number): boolean => (features & bit(n)) !== 0n;
