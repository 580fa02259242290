// Ours: the system-call surface the guest userland (src/shell) sees — the only way a tool reaches the
// kernel. Every call may fail with an `Errno` (thrown), exactly where Linux would return -errno.
// Calls are async because some of them run kernel work on the virtual clock (a write to a sysfs
// `scan` attribute scans the bus; a read of /dev/sda goes through the block layer and the device).

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NONBLOCK = 0o4000;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECT = 0o40000;
export const O_DIRECTORY = 0o200000;
export const O_SYNC = 0o4010000;

/** posix_fadvise advice values (include/uapi/linux/fadvise.h). */
export const POSIX_FADV_NORMAL = 0;
export const POSIX_FADV_RANDOM = 1;
export const POSIX_FADV_SEQUENTIAL = 2;
const POSIX_FADV_WILLNEED = 3;
const POSIX_FADV_DONTNEED = 4;
const POSIX_FADV_NOREUSE = 5;
/** The advice values fadvise64 accepts (anything else is EINVAL). */
export const POSIX_FADV_VALID: ReadonlySet<number> = new Set([POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL, POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE]);

export interface Stat {
  readonly dev: number;
  readonly ino: number;
  /** File type and permission bits (S_IF* | 0o7777). */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Device number of a block/char node: major and minor. */
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  /** Seconds since the epoch (virtual). */
  readonly mtime: number;
  readonly atime: number;
  readonly ctime: number;
}

export interface Dirent {
  readonly name: string;
  /** S_IF* type bits of the entry. */
  readonly type: number;
}

/** Credentials of the calling process. */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
}

export interface Syscalls {
  stat(path: string): Promise<Stat>;
  lstat(path: string): Promise<Stat>;
  readdir(path: string): Promise<Dirent[]>;
  readlink(path: string): Promise<string>;
  /** Resolves every link (realpath(3)). */
  realpath(path: string): Promise<string>;
  open(path: string, flags: number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes at the file position (or at `position` when given, like pread). */
  read(fd: number, length: number, position?: number): Promise<Uint8Array>;
  write(fd: number, data: Uint8Array, position?: number): Promise<number>;
  lseek(fd: number, offset: number, whence: 0 | 1 | 2): Promise<number>;
  fstat(fd: number): Promise<Stat>;
  fsync(fd: number): Promise<void>;
  /** sync(2): writes back every dirty buffer (optional until the kernel implements it). */
  sync?(): Promise<void>;
  /** ioctl with a typed argument object (SG_IO's sg_io_hdr, BLKGETSIZE64, MTIOCTOP …); returns the result object. */
  ioctl(fd: number, request: number, arg?: unknown): Promise<unknown>;
  /** fadvise64(2) (optional: fakes may leave it out; callers ignore its failure as libblkid does). */
  fadvise?(fd: number, offset: number, len: number, advice: number): Promise<void>;
  mkdir(path: string, mode?: number): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  mount(source: string, target: string, fstype: string, flags: number, data?: string): Promise<void>;
  umount(target: string): Promise<void>;
  /** The kernel log ring, formatted as `dmesg` prints it (one line per record). */
  syslog(): Promise<string[]>;
  /** Loads/unloads a module (finit_module / delete_module). */
  initModule(name: string, params: string): Promise<void>;
  deleteModule(name: string): Promise<void>;
  /** Sleeps on the virtual clock. */
  nanosleep(ns: number): Promise<void>;
  /** Virtual wall-clock seconds since the epoch and uptime in seconds. */
  time(): number;
  uptime(): number;
  getcred(): Cred;
  /** Runs `fn` with other credentials (su). */
  withCred<T>(cred: Cred, fn: (sys: Syscalls) => Promise<T>): Promise<T>;
  uname(): { sysname: string; nodename: string; release: string; version: string; machine: string };
}
