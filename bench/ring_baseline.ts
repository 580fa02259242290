// Ours: the bare baseline for the I/O benchmark — one split virtqueue, the guest's driver side
// (src/virtio/virtio_ring.ts) against QEMU's device side (src/host/virtio/virtio.ts), with nothing
// between them but a memcpy of 4 KiB from a backing buffer. Same chain shape as virtio_scsi uses
// (request header out; response + data in; indirect table), same feature set (EVENT_IDX, INDIRECT_DESC),
// no SCSI, no event loop, no interrupts: the ceiling the full stack is compared with.

import { DmaAllocator } from '../src/kernel/dma.ts';
import { VirtIODevice, iovFromBuf } from '../src/host/virtio/virtio.ts';
import { FlatGuestMemory } from '../src/platform/guest_memory.ts';
import { VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, bit } from '../src/protocol/virtio_config.ts';
import { Rng } from '../src/sim/rng.ts';
import { createVirtqueue } from '../src/virtio/virtio_ring.ts';
import type { Sg } from '../src/virtio/virtio_ring.ts';

const QUEUE_SIZE = 256;
const REQ_HDR = 51; // virtio_scsi_cmd_req with a 32-byte CDB
const RESP_LEN = 108; // virtio_scsi_cmd_resp with 96 bytes of sense
const IO = 4096;

export interface RingBaseline {
  /** Runs `ops` requests one at a time (queue depth 1); returns how many completed. */
  run(ops: number): number;
}

export function ringBaseline(seed: number, backingBytes = 64 << 20): RingBaseline {
  const mem = new FlatGuestMemory(16 << 20);
  const dma = new DmaAllocator(mem, 1 << 20, 15 << 20);
  const features = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_RING_F_EVENT_IDX) | bit(VIRTIO_RING_F_INDIRECT_DESC);
  const dev = new VirtIODevice({ mem, name: 'bench', deviceId: 8, configLen: 0, hostFeatures: features });
  dev.setFeatures(features);
  const dvq = dev.addQueue(QUEUE_SIZE, null);
  const vq = createVirtqueue({
    index: 0,
    num: QUEUE_SIZE,
    name: 'request',
    mem,
    dma,
    host: { eventIdx: true, indirect: true, devErr: (t) => { throw new Error(t); } },
    notify: () => true,
    callback: () => {},
  });
  if (typeof vq === 'number') throw new Error(`createVirtqueue: ${vq}`);
  dvq.setRings(vq.descAddr, vq.availAddr, vq.usedAddr);
  vq.enableCb();

  const backing = new Uint8Array(backingBytes);
  const blocks = backingBytes / 512;
  const rng = new Rng(seed);
  const hdr = dma.kmalloc(REQ_HDR + 5 + RESP_LEN)!;
  const data = dma.alloc(IO)!;
  const out: Sg[] = [{ addr: hdr, len: REQ_HDR }];
  const inn: Sg[] = [
    { addr: hdr + REQ_HDR + 5, len: RESP_LEN },
    { addr: data, len: IO },
  ];
  const token = {};

  return {
    run(ops: number): number {
      let done = 0;
      for (let i = 0; i < ops; i++) {
        const lba = rng.int(0, blocks - IO / 512);
        if (vq.addSgs(out, inn, token) !== 0) break;
        if (vq.kickPrepare()) vq.notify();
        // Device side: pop, copy the blocks in after the response, publish, decide on an interrupt.
        const elem = dvq.pop();
        if (!elem) break;
        const n = iovFromBuf(mem, elem.inSg, RESP_LEN, backing, lba * 512, IO);
        dvq.push(elem, RESP_LEN + n);
        dev.notify(dvq);
        // Driver side: the interrupt handler's drain.
        vq.disableCb();
        for (let b = vq.getBuf(); b; b = vq.getBuf()) done++;
        vq.enableCb();
      }
      return done;
    },
  };
}
