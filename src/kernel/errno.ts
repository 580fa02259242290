// Models include/uapi/asm-generic/errno-base.h + errno.h and glibc/musl strerror texts (the guest's errno).

export const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  ENOEXEC: [8, 'Exec format error'],
  EBADF: [9, 'Bad file descriptor'],
  ECHILD: [10, 'No child processes'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Out of memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  ENOTBLK: [15, 'Block device required'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  EXDEV: [18, 'Invalid cross-device link'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENFILE: [23, 'Too many open files in system'],
  EMFILE: [24, 'Too many open files'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  EFBIG: [27, 'File too large'],
  ENOSPC: [28, 'No space left on device'],
  ESPIPE: [29, 'Illegal seek'],
  EROFS: [30, 'Read-only file system'],
  EPIPE: [32, 'Broken pipe'],
  ERANGE: [34, 'Numerical result out of range'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOSYS: [38, 'Function not implemented'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENODATA: [61, 'No data available'],
  ETIME: [62, 'Timer expired'],
  EREMOTEIO: [121, 'Remote I/O error'],
  ENOMEDIUM: [123, 'No medium found'],
  EMEDIUMTYPE: [124, 'Wrong medium type'],
  EMSGSIZE: [90, 'Message too long'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  ETIMEDOUT: [110, 'Connection timed out'],
} as const;

export type ErrnoCode = keyof typeof ERRNO;

export class Errno extends Error {
  readonly errno: number;
  readonly code: ErrnoCode;
  readonly syscall: string;
  readonly path: string;
  constructor(code: ErrnoCode, syscall = '', path = '') {
    // An errno is the guest's ordinary control flow (every failed lookup throws one), not a bug:
    // capturing a stack trace cost more than the lookup itself, so none is taken.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(ERRNO[code][1]);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.errno = ERRNO[code][0];
    this.syscall = syscall;
    this.path = path;
  }
}

export function strerror(code: ErrnoCode): string {
  return ERRNO[code][1];
}

export function isErrno(e: unknown): e is Errno {
  return e instanceof Errno;
}
