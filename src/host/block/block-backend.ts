// Models block/block-backend.c (QEMU 7.2): a BlockBackend over a raw host file — asynchronous
// read/write/flush/discard/write-zeroes completing on the event loop after a virtual latency with an
// errno value (never a throw), the cache mode, the rerror/werror policy (blk_get_error_action) and the
// BLOCK_IO_ERROR hook (blk_error_action), medium insert/remove and resize; plus (ours) a synchronous
// byte API for devices that keep their own structure in the file (scsi-tape).

import type { EventLoop, Nanoseconds, TimerHandle } from '../../sim/event_loop.ts';

/** The synchronous file API we need; both Node's `fs` and memfs's `fs` provide it. */
export interface SyncFs {
  openSync(path: string, flags: string): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fstatSync(fd: number): { size: number | bigint };
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  ftruncateSync?(fd: number, len: number): void;
}

/** Errno names a block operation can complete with (null = success). */
export type BlockErrno =
  | 'EIO' | 'ENOSPC' | 'ENOMEDIUM' | 'EINVAL' | 'ENOMEM' | 'EROFS' | 'ENODATA' | 'EREMOTEIO'
  // Reachable through fault injection (blkdebug errno=N): scsi_sense_from_errno maps EDOM and EBADE
  // to TASK SET FULL and RESERVATION CONFLICT, the others to I/O errors.
  | 'EPERM' | 'EAGAIN' | 'EBUSY' | 'EFBIG' | 'EDOM' | 'EBADE' | 'ENOTSUP' | 'ETIMEDOUT' | 'EDQUOT' | 'ECANCELED';

export type BlockErrorPolicy = 'report' | 'ignore' | 'stop' | 'enospc';
export type BlockErrorAction = 'report' | 'ignore' | 'stop';
export type BlockOp = 'read' | 'write' | 'flush' | 'discard' | 'write-zeroes';

/** Data of a BLOCK_IO_ERROR event (qapi/block-core.json), for the monitor to format. */
export interface BlockIoErrorEvent {
  device: string;
  nodeName: string | undefined;
  operation: 'read' | 'write';
  action: BlockErrorAction;
  /** strerror text, e.g. `Input/output error`. */
  reason: string;
  /** Only present when the error policy enables I/O status (stop/enospc). */
  nospace?: boolean;
}

export interface BlockBackendOptions {
  /** The -drive id; undefined for a -blockdev / blockdev-add node used directly. */
  name?: string | undefined;
  nodeName?: string | undefined;
  readOnly?: boolean;
  /** cache.writeback = the guest-visible write cache (WCE). Default on. */
  writeback?: boolean;
  direct?: boolean;
  noFlush?: boolean;
  rerror?: BlockErrorPolicy;
  werror?: BlockErrorPolicy;
  /** Virtual completion latency of every operation (default 10 µs). */
  latencyNs?: Nanoseconds;
}

/** One stored medium: an open host file. */
export interface BlockMedium {
  readonly fs: SyncFs;
  readonly fd: number;
  readonly path: string;
  size: number;
}

export type BlockCompletion<T> = (opaque: T, err: BlockErrno | null) => void;

/**
 * I/O limits in front of the backend (blk_co_do_preadv/pwritev's throttle_group_co_io_limits_intercept):
 * calls `start` once the request may go, possibly later on the virtual clock.
 */
export interface BlockThrottleHook {
  intercept(isWrite: boolean, bytes: number, start: () => void): void;
}

/** Fault injection (blkdebug-like): return an errno to fail an operation instead of running it. */
export type BlockFaultHook = (op: BlockOp, offset: number, length: number) => BlockErrno | null;

const STRERROR: Record<BlockErrno, string> = {
  EIO: 'Input/output error',
  ENOSPC: 'No space left on device',
  ENOMEDIUM: 'No medium found',
  EINVAL: 'Invalid argument',
  ENOMEM: 'Cannot allocate memory',
  EROFS: 'Read-only file system',
  ENODATA: 'No data available',
  EREMOTEIO: 'Remote I/O error',
  EPERM: 'Operation not permitted',
  EAGAIN: 'Resource temporarily unavailable',
  EBUSY: 'Device or resource busy',
  EFBIG: 'File too large',
  EDOM: 'Numerical argument out of domain',
  EBADE: 'Invalid exchange',
  ENOTSUP: 'Operation not supported',
  ETIMEDOUT: 'Connection timed out',
  EDQUOT: 'Disk quota exceeded',
  ECANCELED: 'Operation canceled',
};

/** An in-flight asynchronous operation (BlockAIOCB). */
export class BlockAio<T = unknown> {
  readonly op: BlockOp;
  readonly offset: number;
  readonly length: number;
  readonly buf: Uint8Array | null;
  readonly opaque: T;
  readonly cb: BlockCompletion<T>;
  readonly blk: BlockBackend;
  timer: TimerHandle | null = null;
  done = false;
  constructor(blk: BlockBackend, op: BlockOp, offset: number, length: number, buf: Uint8Array | null, cb: BlockCompletion<T>, opaque: T) {
    this.blk = blk;
    this.op = op;
    this.offset = offset;
    this.length = length;
    this.buf = buf;
    this.cb = cb;
    this.opaque = opaque;
  }
  /** Drops the operation: it never runs and its completion is never called. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.timer?.cancel();
    this.blk.inFlight--;
  }
  fire = (): void => {
    if (this.done) return;
    this.done = true;
    this.blk.inFlight--;
    const err = this.blk.runOp(this);
    this.cb(this.opaque, err);
  };
}

export class BlockBackend {
  readonly loop: EventLoop;
  readonly name: string | undefined;
  readonly nodeName: string | undefined;
  readOnly: boolean;
  enableWriteCache: boolean;
  readonly direct: boolean;
  readonly noFlush: boolean;
  /** on_read_error / on_write_error; a device's rerror=/werror= replaces them at realize (blk_set_on_error). */
  rerror: BlockErrorPolicy;
  werror: BlockErrorPolicy;
  latencyNs: Nanoseconds;
  medium: BlockMedium | null = null;
  inFlight = 0;
  /** query-block io-status. */
  ioStatus: 'ok' | 'failed' | 'nospace' = 'ok';
  faultHook: BlockFaultHook | null = null;
  /** I/O throttling (block_set_io_throttle): reads and writes wait here before they start. */
  throttle: BlockThrottleHook | null = null;
  /** BLOCK_IO_ERROR sink (the monitor wires it). */
  onIoError: ((ev: BlockIoErrorEvent) => void) | null = null;
  readonly #resizeListeners: Array<() => void> = [];

  constructor(loop: EventLoop, opts: BlockBackendOptions = {}) {
    this.loop = loop;
    this.name = opts.name;
    this.nodeName = opts.nodeName;
    this.readOnly = opts.readOnly ?? false;
    this.enableWriteCache = opts.writeback ?? true;
    this.direct = opts.direct ?? false;
    this.noFlush = opts.noFlush ?? false;
    this.rerror = opts.rerror ?? 'report';
    this.werror = opts.werror ?? 'enospc';
    this.latencyNs = opts.latencyNs ?? 10_000;
  }

  /** Opens `path` on `fs` as the medium; returns an errno name instead of throwing. */
  static open(loop: EventLoop, fs: SyncFs, path: string, opts: BlockBackendOptions = {}): BlockBackend | { error: string } {
    const blk = new BlockBackend(loop, opts);
    const err = blk.insertMedium(fs, path);
    return err ? { error: err } : blk;
  }

  /** Inserts a medium (the file at `path`); returns an errno code on failure. */
  insertMedium(fs: SyncFs, path: string): string | null {
    try {
      const fd = fs.openSync(path, this.readOnly ? 'r' : 'r+');
      const size = Number(fs.fstatSync(fd).size);
      this.medium = { fs, fd, path, size };
      return null;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return typeof code === 'string' ? code : 'EIO';
    }
  }

  removeMedium(): void {
    const m = this.medium;
    if (!m) return;
    this.medium = null;
    try {
      m.fs.closeSync(m.fd);
    } catch {
      // the host file is gone already; nothing to report to the guest
    }
  }

  /** blk_is_inserted. */
  get inserted(): boolean {
    return this.medium !== null;
  }

  /** Size in bytes (0 without a medium). */
  get size(): number {
    return this.medium?.size ?? 0;
  }

  /** blk_get_geometry: size in 512-byte sectors. */
  get nbSectors(): number {
    return Math.floor(this.size / 512);
  }

  /** blk_get_max_transfer for a raw file: INT_MAX aligned down to the 512-byte request alignment. */
  get maxTransfer(): number {
    return 0x7fffffff - (0x7fffffff % 512);
  }

  get writable(): boolean {
    return !this.readOnly;
  }

  onResize(fn: () => void): void {
    this.#resizeListeners.push(fn);
  }

  /** block_resize: changes the size of the medium and tells the device (resize_cb). */
  resize(newSize: number): string | null {
    const m = this.medium;
    if (!m) return 'ENOMEDIUM';
    if (!Number.isInteger(newSize) || newSize < 0) return 'EINVAL';
    try {
      m.fs.ftruncateSync?.(m.fd, newSize);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return typeof code === 'string' ? code : 'EIO';
    }
    m.size = newSize;
    for (const fn of this.#resizeListeners) fn();
    return null;
  }

  read<T>(offset: number, buf: Uint8Array, cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    return this.#submit('read', offset, buf.length, buf, cb, opaque);
  }
  write<T>(offset: number, buf: Uint8Array, cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    return this.#submit('write', offset, buf.length, buf, cb, opaque);
  }
  flush<T>(cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    return this.#submit('flush', 0, 0, null, cb, opaque);
  }
  discard<T>(offset: number, length: number, cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    return this.#submit('discard', offset, length, null, cb, opaque);
  }
  writeZeroes<T>(offset: number, length: number, cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    return this.#submit('write-zeroes', offset, length, null, cb, opaque);
  }

  #submit<T>(op: BlockOp, offset: number, length: number, buf: Uint8Array | null, cb: BlockCompletion<T>, opaque: T): BlockAio<T> {
    const aio = new BlockAio<T>(this, op, offset, length, buf, cb, opaque);
    this.inFlight++;
    // Flushes and discards bypass the I/O limits, as in QEMU.
    if (this.throttle && (op === 'read' || op === 'write' || op === 'write-zeroes')) {
      this.throttle.intercept(op !== 'read', length, () => {
        if (!aio.done) aio.timer = this.loop.after(this.latencyNs, aio.fire);
      });
    } else aio.timer = this.loop.after(this.latencyNs, aio.fire);
    return aio;
  }

  /** Runs an operation against the host file at its completion time. */
  runOp(aio: { readonly op: BlockOp; readonly offset: number; readonly length: number; readonly buf: Uint8Array | null }): BlockErrno | null {
    const injected = this.faultHook?.(aio.op, aio.offset, aio.length) ?? null;
    if (injected) return injected;
    const m = this.medium;
    if (!m) return 'ENOMEDIUM';
    const { op, offset, length } = aio;
    if (op !== 'flush' && (offset < 0 || length < 0)) return 'EINVAL';
    if ((op === 'write' || op === 'write-zeroes' || op === 'discard') && this.readOnly) return 'EROFS';
    try {
      switch (op) {
        case 'read': {
          const buf = aio.buf!;
          const avail = Math.max(0, Math.min(length, m.size - offset));
          let got = 0;
          while (got < avail) {
            const n = m.fs.readSync(m.fd, buf, got, avail - got, offset + got);
            if (n <= 0) break;
            got += n;
          }
          if (got < length) buf.fill(0, got, length);
          return null;
        }
        case 'write':
          if (offset + length > m.size) return 'EIO';
          this.#writeAll(m, aio.buf!, offset);
          return null;
        case 'write-zeroes':
        case 'discard': {
          // A raw file reads back zeroes after a discard (punched hole), so both become zero writes.
          const end = Math.min(offset + length, m.size);
          const zero = new Uint8Array(Math.min(65536, Math.max(0, end - offset)));
          for (let pos = offset; pos < end; pos += zero.length) {
            this.#writeAll(m, zero.subarray(0, Math.min(zero.length, end - pos)), pos);
          }
          return null;
        }
        case 'flush':
          if (!this.noFlush) m.fs.fsyncSync(m.fd);
          return null;
      }
    } catch {
      return 'EIO';
    }
  }

  // ---- synchronous byte access (scsi-tape keeps its own record structure in the file) ----

  /**
   * Reads `buf.length` bytes at `offset` at once (bytes past the end of the file read as zeroes).
   * Consults the fault hook like an asynchronous read; an errno instead of a throw.
   */
  readBytesSync(offset: number, buf: Uint8Array): BlockErrno | null {
    return this.runOp({ op: 'read', offset, length: buf.length, buf });
  }

  /** Writes `buf` at `offset` at once, growing the file when needed (unlike a block write). */
  writeBytesSync(offset: number, buf: Uint8Array): BlockErrno | null {
    const injected = this.faultHook?.('write', offset, buf.length) ?? null;
    if (injected) return injected;
    const m = this.medium;
    if (!m) return 'ENOMEDIUM';
    if (this.readOnly) return 'EROFS';
    if (offset < 0) return 'EINVAL';
    try {
      this.#writeAll(m, buf, offset);
    } catch {
      return 'EIO';
    }
    m.size = Math.max(m.size, offset + buf.length);
    return null;
  }

  /** Cuts the file at `length` bytes (ENOTSUP when the filesystem cannot truncate). */
  truncateSync(length: number): BlockErrno | null {
    const m = this.medium;
    if (!m) return 'ENOMEDIUM';
    if (this.readOnly) return 'EROFS';
    if (!m.fs.ftruncateSync) return 'ENOTSUP';
    try {
      m.fs.ftruncateSync(m.fd, length);
    } catch {
      return 'EIO';
    }
    m.size = length;
    return null;
  }

  #writeAll(m: BlockMedium, buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = m.fs.writeSync(m.fd, buf, done, buf.length - done, offset + done);
      if (n <= 0) throw new Error('short write');
      done += n;
    }
  }

  /** blk_get_error_action. */
  getErrorAction(isRead: boolean, errno: string): BlockErrorAction {
    const policy = isRead ? this.rerror : this.werror;
    switch (policy) {
      case 'enospc':
        return errno === 'ENOSPC' ? 'stop' : 'report';
      case 'stop':
        return 'stop';
      case 'report':
        return 'report';
      case 'ignore':
        return 'ignore';
    }
  }

  /** blk_error_action: records io-status and raises BLOCK_IO_ERROR (the VM stop is the machine's job). */
  errorAction(action: BlockErrorAction, isRead: boolean, errno: string): void {
    const policy = isRead ? this.rerror : this.werror;
    const iostatusEnabled = policy === 'stop' || policy === 'enospc';
    if (action === 'stop' && iostatusEnabled && this.ioStatus === 'ok') {
      this.ioStatus = errno === 'ENOSPC' ? 'nospace' : 'failed';
    }
    const ev: BlockIoErrorEvent = {
      device: this.name ?? '',
      nodeName: this.nodeName,
      operation: isRead ? 'read' : 'write',
      action,
      reason: STRERROR[errno as BlockErrno] ?? errno,
    };
    if (iostatusEnabled) ev.nospace = errno === 'ENOSPC';
    this.onIoError?.(ev);
  }

  /** `cont`: io-status back to ok. */
  resetIoStatus(): void {
    this.ioStatus = 'ok';
  }
}
