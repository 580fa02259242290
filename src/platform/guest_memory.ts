// Ours (≈ rust-vmm vm-memory): guest RAM, the only state guest and host both touch.
// Little-endian accessors (virtio 1.x is LE), every access bounds-checked, reads copy out.

/** Guest-physical address (RAM is at most 4 GiB, so a number is exact). */
export type Gpa = number;

export class GuestMemoryFault extends Error {
  readonly code = 'EFAULT';
  readonly addr: number;
  readonly length: number;
  constructor(addr: number, length: number) {
    super(`guest memory access out of range: 0x${addr.toString(16)}+${length}`);
    this.addr = addr;
    this.length = length;
  }
}

export interface GuestMemory {
  readonly size: number;
  read8(addr: Gpa): number;
  read16(addr: Gpa): number;
  read32(addr: Gpa): number;
  read64(addr: Gpa): bigint;
  write8(addr: Gpa, v: number): void;
  write16(addr: Gpa, v: number): void;
  write32(addr: Gpa, v: number): void;
  write64(addr: Gpa, v: bigint): void;
  /** Copies out: never returns a view, so no aliasing escapes the boundary. */
  readBytes(addr: Gpa, length: number): Uint8Array;
  /** Copies `length` bytes into `dst` at `dstOffset` (no allocation: the I/O hot path uses it). */
  readInto(addr: Gpa, dst: Uint8Array, dstOffset?: number, length?: number): void;
  writeBytes(addr: Gpa, bytes: Uint8Array): void;
  fill(addr: Gpa, length: number, value: number): void;
  /** True when [addr, addr+length) lies inside RAM. */
  valid(addr: Gpa, length: number): boolean;
}

export class FlatGuestMemory implements GuestMemory {
  readonly size: number;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(size: number) {
    this.size = size;
    this.#bytes = new Uint8Array(size);
    this.#view = new DataView(this.#bytes.buffer);
  }

  valid(addr: Gpa, length: number): boolean {
    return Number.isInteger(addr) && Number.isInteger(length) && addr >= 0 && length >= 0 && addr + length <= this.size;
  }

  #check(addr: Gpa, length: number): void {
    if (!this.valid(addr, length)) throw new GuestMemoryFault(addr, length);
  }

  read8(addr: Gpa): number {
    this.#check(addr, 1);
    return this.#bytes[addr]!;
  }
  read16(addr: Gpa): number {
    this.#check(addr, 2);
    return this.#view.getUint16(addr, true);
  }
  read32(addr: Gpa): number {
    this.#check(addr, 4);
    return this.#view.getUint32(addr, true);
  }
  read64(addr: Gpa): bigint {
    this.#check(addr, 8);
    return this.#view.getBigUint64(addr, true);
  }
  write8(addr: Gpa, v: number): void {
    this.#check(addr, 1);
    this.#bytes[addr] = v;
  }
  write16(addr: Gpa, v: number): void {
    this.#check(addr, 2);
    this.#view.setUint16(addr, v, true);
  }
  write32(addr: Gpa, v: number): void {
    this.#check(addr, 4);
    this.#view.setUint32(addr, v >>> 0, true);
  }
  write64(addr: Gpa, v: bigint): void {
    this.#check(addr, 8);
    this.#view.setBigUint64(addr, BigInt.asUintN(64, v), true);
  }
  readBytes(addr: Gpa, length: number): Uint8Array {
    this.#check(addr, length);
    return this.#bytes.slice(addr, addr + length);
  }
  readInto(addr: Gpa, dst: Uint8Array, dstOffset = 0, length = dst.length - dstOffset): void {
    this.#check(addr, length);
    dst.set(this.#bytes.subarray(addr, addr + length), dstOffset);
  }
  writeBytes(addr: Gpa, bytes: Uint8Array): void {
    this.#check(addr, bytes.length);
    this.#bytes.set(bytes, addr);
  }
  fill(addr: Gpa, length: number, value: number): void {
    this.#check(addr, length);
    this.#bytes.fill(value, addr, addr + length);
  }
}
