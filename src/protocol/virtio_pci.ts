// virtio over PCI (virtio v1.2 §4.1; Linux include/uapi/linux/virtio_pci.h).

/** struct virtio_pci_cap cfg_type values. */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;

/** struct virtio_pci_cap field offsets (from the capability start). */
export const VIRTIO_PCI_CAP_VNDR = 0;
export const VIRTIO_PCI_CAP_NEXT = 1;
export const VIRTIO_PCI_CAP_LEN = 2;
export const VIRTIO_PCI_CAP_CFG_TYPE = 3;
export const VIRTIO_PCI_CAP_BAR = 4;
export const VIRTIO_PCI_CAP_ID = 5;
export const VIRTIO_PCI_CAP_OFFSET = 8;
export const VIRTIO_PCI_CAP_LENGTH = 12;
export const VIRTIO_PCI_NOTIFY_CAP_MULT = 16;

/** struct virtio_pci_common_cfg offsets. */
export const VIRTIO_PCI_COMMON_DFSELECT = 0x00;
export const VIRTIO_PCI_COMMON_DF = 0x04;
export const VIRTIO_PCI_COMMON_GFSELECT = 0x08;
export const VIRTIO_PCI_COMMON_GF = 0x0c;
export const VIRTIO_PCI_COMMON_MSIX = 0x10;
export const VIRTIO_PCI_COMMON_NUMQ = 0x12;
export const VIRTIO_PCI_COMMON_STATUS = 0x14;
export const VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
export const VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
export const VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
export const VIRTIO_PCI_COMMON_Q_MSIX = 0x1a;
export const VIRTIO_PCI_COMMON_Q_ENABLE = 0x1c;
export const VIRTIO_PCI_COMMON_Q_NOFF = 0x1e;
export const VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
export const VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
export const VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
export const VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2c;
export const VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
export const VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
export const VIRTIO_PCI_COMMON_Q_NDATA = 0x38;
export const VIRTIO_PCI_COMMON_Q_RESET = 0x3a;

export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** ISR status bits (read-to-clear). */
export const VIRTIO_PCI_ISR_QUEUE = 0x1;
export const VIRTIO_PCI_ISR_CONFIG = 0x2;

/** PCI ids for virtio devices (virtio v1.2 §4.1.2). */
export const VIRTIO_PCI_DEVICE_ID_TRANSITIONAL_SCSI = 0x1004;
export const VIRTIO_PCI_DEVICE_ID_MODERN_BASE = 0x1040;
