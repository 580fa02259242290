// virtio-scsi wire format (virtio v1.2 §5.6; Linux include/uapi/linux/virtio_scsi.h).

export const VIRTIO_SCSI_CDB_DEFAULT_SIZE = 32;
export const VIRTIO_SCSI_SENSE_DEFAULT_SIZE = 96;

/** Feature bits. */
export const VIRTIO_SCSI_F_INOUT = 0;
export const VIRTIO_SCSI_F_HOTPLUG = 1;
export const VIRTIO_SCSI_F_CHANGE = 2;
export const VIRTIO_SCSI_F_T10_PI = 3;

/** struct virtio_scsi_config offsets (36 bytes). */
export const VIRTIO_SCSI_CONFIG_NUM_QUEUES = 0;
export const VIRTIO_SCSI_CONFIG_SEG_MAX = 4;
export const VIRTIO_SCSI_CONFIG_MAX_SECTORS = 8;
export const VIRTIO_SCSI_CONFIG_CMD_PER_LUN = 12;
export const VIRTIO_SCSI_CONFIG_EVENT_INFO_SIZE = 16;
export const VIRTIO_SCSI_CONFIG_SENSE_SIZE = 20;
export const VIRTIO_SCSI_CONFIG_CDB_SIZE = 24;
export const VIRTIO_SCSI_CONFIG_MAX_CHANNEL = 28;
export const VIRTIO_SCSI_CONFIG_MAX_TARGET = 30;
export const VIRTIO_SCSI_CONFIG_MAX_LUN = 32;
export const VIRTIO_SCSI_CONFIG_SIZE = 36;

/** struct virtio_scsi_cmd_req: lun[8], le64 tag, u8 task_attr, u8 prio, u8 crn, cdb[cdb_size]. */
export const VIRTIO_SCSI_CMD_REQ_LUN = 0;
export const VIRTIO_SCSI_CMD_REQ_TAG = 8;
export const VIRTIO_SCSI_CMD_REQ_TASK_ATTR = 16;
export const VIRTIO_SCSI_CMD_REQ_PRIO = 17;
export const VIRTIO_SCSI_CMD_REQ_CRN = 18;
export const VIRTIO_SCSI_CMD_REQ_CDB = 19;
export const cmdReqSize = (cdbSize: number): number => VIRTIO_SCSI_CMD_REQ_CDB + cdbSize;

/** struct virtio_scsi_cmd_resp: le32 sense_len, le32 resid, le16 status_qualifier, u8 status, u8 response, sense[]. */
export const VIRTIO_SCSI_CMD_RESP_SENSE_LEN = 0;
export const VIRTIO_SCSI_CMD_RESP_RESID = 4;
export const VIRTIO_SCSI_CMD_RESP_STATUS_QUALIFIER = 8;
export const VIRTIO_SCSI_CMD_RESP_STATUS = 10;
export const VIRTIO_SCSI_CMD_RESP_RESPONSE = 11;
export const VIRTIO_SCSI_CMD_RESP_SENSE = 12;
export const cmdRespSize = (senseSize: number): number => VIRTIO_SCSI_CMD_RESP_SENSE + senseSize;

/** Response codes (command and TMF). */
export const VIRTIO_SCSI_S_OK = 0;
export const VIRTIO_SCSI_S_FUNCTION_COMPLETE = 0;
export const VIRTIO_SCSI_S_OVERRUN = 1;
export const VIRTIO_SCSI_S_ABORTED = 2;
export const VIRTIO_SCSI_S_BAD_TARGET = 3;
export const VIRTIO_SCSI_S_RESET = 4;
export const VIRTIO_SCSI_S_BUSY = 5;
export const VIRTIO_SCSI_S_TRANSPORT_FAILURE = 6;
export const VIRTIO_SCSI_S_TARGET_FAILURE = 7;
export const VIRTIO_SCSI_S_NEXUS_FAILURE = 8;
export const VIRTIO_SCSI_S_FAILURE = 9;
export const VIRTIO_SCSI_S_FUNCTION_SUCCEEDED = 10;
export const VIRTIO_SCSI_S_FUNCTION_REJECTED = 11;
export const VIRTIO_SCSI_S_INCORRECT_LUN = 12;

/** Control queue request types. */
export const VIRTIO_SCSI_T_TMF = 0;
export const VIRTIO_SCSI_T_AN_QUERY = 1;
export const VIRTIO_SCSI_T_AN_SUBSCRIBE = 2;

/** TMF subtypes. */
export const VIRTIO_SCSI_T_TMF_ABORT_TASK = 0;
export const VIRTIO_SCSI_T_TMF_ABORT_TASK_SET = 1;
export const VIRTIO_SCSI_T_TMF_CLEAR_ACA = 2;
export const VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET = 3;
export const VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET = 4;
export const VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET = 5;
export const VIRTIO_SCSI_T_TMF_QUERY_TASK = 6;
export const VIRTIO_SCSI_T_TMF_QUERY_TASK_SET = 7;

/** struct virtio_scsi_ctrl_tmf_req: le32 type, le32 subtype, lun[8], le64 tag (24 bytes); resp: u8 response. */
export const VIRTIO_SCSI_TMF_REQ_TYPE = 0;
export const VIRTIO_SCSI_TMF_REQ_SUBTYPE = 4;
export const VIRTIO_SCSI_TMF_REQ_LUN = 8;
export const VIRTIO_SCSI_TMF_REQ_TAG = 16;
export const VIRTIO_SCSI_TMF_REQ_SIZE = 24;
export const VIRTIO_SCSI_TMF_RESP_SIZE = 1;

/** struct virtio_scsi_ctrl_an_req: le32 type, lun[8], le32 event_requested (16); resp: le32 event_actual, u8 response (5). */
export const VIRTIO_SCSI_AN_REQ_SIZE = 16;
export const VIRTIO_SCSI_AN_RESP_SIZE = 5;

/** Events (struct virtio_scsi_event: le32 event, lun[8], le32 reason; 16 bytes). */
export const VIRTIO_SCSI_T_NO_EVENT = 0;
export const VIRTIO_SCSI_T_TRANSPORT_RESET = 1;
export const VIRTIO_SCSI_T_ASYNC_NOTIFY = 2;
export const VIRTIO_SCSI_T_PARAM_CHANGE = 3;
export const VIRTIO_SCSI_T_EVENTS_MISSED = 0x80000000;
export const VIRTIO_SCSI_EVT_RESET_HARD = 0;
export const VIRTIO_SCSI_EVT_RESET_RESCAN = 1;
export const VIRTIO_SCSI_EVT_RESET_REMOVED = 2;
export const VIRTIO_SCSI_EVENT_EVENT = 0;
export const VIRTIO_SCSI_EVENT_LUN = 4;
export const VIRTIO_SCSI_EVENT_REASON = 12;
export const VIRTIO_SCSI_EVENT_SIZE = 16;

/** Task attributes. */
export const VIRTIO_SCSI_S_SIMPLE = 0;
export const VIRTIO_SCSI_S_ORDERED = 1;
export const VIRTIO_SCSI_S_HEAD = 2;
export const VIRTIO_SCSI_S_ACA = 3;

/** Virtqueue indices. */
export const VIRTIO_SCSI_VQ_CONTROL = 0;
export const VIRTIO_SCSI_VQ_EVENT = 1;
export const VIRTIO_SCSI_VQ_REQUEST_BASE = 2;

/**
 * The 8-byte LUN field as Linux writes it (virtscsi_queuecommand): 1, target, flat-space LUN.
 * Linux always sets the flat-space bit 0x40 in byte 2, even for LUN < 256.
 */
export function encodeLinuxLun(target: number, lun: number, out: Uint8Array = new Uint8Array(8), off = 0): Uint8Array {
  out[off] = 1;
  out[off + 1] = target & 0xff;
  out[off + 2] = ((lun >> 8) & 0x3f) | 0x40;
  out[off + 3] = lun & 0xff;
  out[off + 4] = 0;
  out[off + 5] = 0;
  out[off + 6] = 0;
  out[off + 7] = 0;
  return out;
}
