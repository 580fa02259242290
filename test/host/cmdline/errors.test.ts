// Every command-line error text we produce, with QEMU 7.2's wording (input argv → exact stderr lines).
import { describe, expect, it } from 'vitest';
import { args, err } from './helpers.ts';

const D = '-drive file=/w/disk.img,if=none,format=raw,id=d0';
const C = '-device virtio-scsi-pci,id=scsi0';

const TABLE: [string, string][] = [
  // golden seed_single_disk_as_given is QEMU 7.2's refusal; we accept scsi-disk, so an unknown model instead
  ['-device scsi-disc,drive=x', "vscsi: -device scsi-disc,drive=x: 'scsi-disc' is not a valid device model name"],
  [`${D} ${C} -device scsi-hd,drive=nope`, "vscsi: -device scsi-hd,drive=nope: Property 'scsi-hd.drive' can't find value 'nope'"],
  [`${C} -device scsi-hd`, 'vscsi: -device scsi-hd: drive property not set'],
  [`${D} -device scsi-hd,drive=d0`, "vscsi: -device scsi-hd,drive=d0: No 'SCSI' bus found for device 'scsi-hd'"],
  [`${D} ${C} -device scsi-hd,drive=d0,bus=scsi9.0`, "vscsi: -device scsi-hd,drive=d0,bus=scsi9.0: Bus 'scsi9.0' not found"],
  [`${D} ${C} -device scsi-hd,drive=d0,bus=pci.0`, "vscsi: -device scsi-hd,drive=d0,bus=pci.0: Device 'scsi-hd' can't go on PCI bus"],
  [`${D} ${C} -device scsi-hd,drive=d0,scsi-id=300`, 'vscsi: -device scsi-hd,drive=d0,scsi-id=300: bad scsi device id: 300'],
  [`${D} ${C} -device scsi-hd,drive=d0,lun=16384`, 'vscsi: -device scsi-hd,drive=d0,lun=16384: bad scsi device lun: 16384'],
  [`${D} ${C} -device scsi-hd,drive=d0,channel=1`, 'vscsi: -device scsi-hd,drive=d0,channel=1: bad scsi channel id: 1'],
  [`${D} ${C} -device scsi-hd,drive=d0,scsi-id=-2`, "vscsi: -device scsi-hd,drive=d0,scsi-id=-2: Parameter 'scsi-id' expects uint32_t"],
  [`${D} ${C} -device scsi-hd,drive=d0,scsi-id=x`, "vscsi: -device scsi-hd,drive=d0,scsi-id=x: Parameter 'scsi-id' expects integer"],
  [`${D} ${C} -device scsi-hd,drive=d0,removable=maybe`, "vscsi: -device scsi-hd,drive=d0,removable=maybe: Parameter 'removable' expects 'on' or 'off'"],
  [`${D} ${C} -device scsi-hd,drive=d0,rerror=never`, "vscsi: -device scsi-hd,drive=d0,rerror=never: Parameter 'rerror' does not accept value 'never'"],
  [`${D} ${C} -device scsi-hd,drive=d0,foo=1`, "vscsi: -device scsi-hd,drive=d0,foo=1: Property 'scsi-hd.foo' not found"],
  [`${D} ${C} -device scsi-hd,drive=d0,logical_block_size=1000`, "vscsi: -device scsi-hd,drive=d0,logical_block_size=1000: Property scsi-hd.logical_block_size doesn't take value '1000', it's not a power of 2"],
  [`${D} ${C} -device scsi-hd,drive=d0,logical_block_size=4096,physical_block_size=512`, 'vscsi: -device scsi-hd,drive=d0,logical_block_size=4096,physical_block_size=512: logical_block_size > physical_block_size not supported'],
  [`${C} -device virtio-scsi-pci,addr=zz`, "vscsi: -device virtio-scsi-pci,addr=zz: Property 'virtio-scsi-pci.addr' doesn't take value 'zz'"],
  [`${C} -device virtio-scsi-pci,addr=4`, 'vscsi: -device virtio-scsi-pci,addr=4: PCI: slot 4 function 0 not available for virtio-scsi-pci, in use by virtio-scsi-pci,id=scsi0'],
  ['-device virtio-scsi-pci,addr=2', 'vscsi: -device virtio-scsi-pci,addr=2: PCI: slot 2 function 0 not available for virtio-scsi-pci, in use by VGA,id=(null)'],
  ['-device virtio-scsi-pci,addr=2.1', "vscsi: -device virtio-scsi-pci,addr=2.1: PCI: single function device can't be populated in function 2.1"],
  ['-device virtio-scsi-pci,num_queues=0', 'vscsi: -device virtio-scsi-pci,num_queues=0: Invalid number of queues (= 0), must be a positive integer less than 1022.'],
  ['-device virtio-scsi-pci,virtqueue_size=2', 'vscsi: -device virtio-scsi-pci,virtqueue_size=2: invalid virtqueue_size property (= 2), must be > 2'],
  ['-device virtio-scsi-pci,disable-legacy=on,disable-modern=on', 'vscsi: -device virtio-scsi-pci,disable-legacy=on,disable-modern=on: device cannot work as neither modern nor legacy mode is enabled'],
  ['-device virtio-scsi-pci,iothread=io0', "vscsi: -device virtio-scsi-pci,iothread=io0: Device 'io0' not found"],
  [`${D} ${C} -device scsi-hd,drive=d0 -device scsi-cd,drive=d0`, "vscsi: -device scsi-cd,drive=d0: Drive 'd0' is already in use by another device"],
  [`${C} -device virtio-scsi-pci,id=scsi0`, "vscsi: -device virtio-scsi-pci,id=scsi0: Duplicate ID 'scsi0' for device"],
  [`${D} ${D}`, `vscsi: ${D}: Duplicate ID 'd0' for drive`],
  [`${D} ${C} -device scsi-hd,drive=d0,scsi-id=0,lun=0,id=a -drive file=/w/disk1.img,if=none,format=raw,id=d1 -device scsi-hd,drive=d1,scsi-id=0,lun=0`,
    "vscsi: -device scsi-hd,drive=d1,scsi-id=0,lun=0: lun already used by 'a'"],
  [`${D} ${C} -device scsi-hd,drive=d0,scsi-id=0,lun=0 -drive file=/w/disk1.img,if=none,format=raw,id=d1 -device scsi-hd,drive=d1,scsi-id=0,lun=0`,
    "vscsi: -device scsi-hd,drive=d1,scsi-id=0,lun=0: lun already used by '(null)'"],
  // goldens scsi_block_on_file / scsi_generic_on_file
  [`${D} ${C} -device scsi-block,drive=d0,scsi-id=0,lun=0`, 'vscsi: -device scsi-block,drive=d0,scsi-id=0,lun=0: cannot get SG_IO version number: Operation not supported\nIs this a SCSI device?'],
  [`${D} ${C} -device scsi-generic,drive=d0,scsi-id=0,lun=0`, 'vscsi: -device scsi-generic,drive=d0,scsi-id=0,lun=0: cannot get SG_IO version number: Operation not supported\nIs this a SCSI device?'],
  [`-drive file=/dev/sdz,if=none,format=raw,id=d0 ${C} -device scsi-block,drive=d0`, 'vscsi: -device scsi-block,drive=d0: cannot get SG_IO version number: Inappropriate ioctl for device\nIs this a SCSI device?'],
  [`-drive file=/dev/sdb,if=none,format=raw,id=d0,rerror=stop ${C} -device scsi-generic,drive=d0`, "vscsi: -device scsi-generic,drive=d0: Device doesn't support drive option rerror"],
  // -drive
  ['-drive file=/w/missing.img,if=none,id=x', "vscsi: -drive file=/w/missing.img,if=none,id=x: Could not open '/w/missing.img': No such file or directory"],
  ['-drive file=/w/dir,if=none,format=raw', "vscsi: -drive file=/w/dir,if=none,format=raw: Could not open '/w/dir': Is a directory"],
  ['-drive file=/w/disk.img,if=none,id=1x', "vscsi: -drive file=/w/disk.img,if=none,id=1x: Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter."],
  ['-drive file=/w/disk.img,if=none,cache=fast', 'vscsi: -drive file=/w/disk.img,if=none,cache=fast: invalid cache option'],
  ['-drive file=/w/disk.img,if=none,media=tape', "vscsi: -drive file=/w/disk.img,if=none,media=tape: 'tape' invalid media"],
  ['-drive file=/w/disk.img,if=floppy2', "vscsi: -drive file=/w/disk.img,if=floppy2: unsupported bus type 'floppy2'"],
  ['-drive file=/w/disk.img,if=none,rerror=enospc', "vscsi: -drive file=/w/disk.img,if=none,rerror=enospc: 'enospc' invalid read error action"],
  ['-drive file=/w/disk.img,if=none,werror=explode', "vscsi: -drive file=/w/disk.img,if=none,werror=explode: 'explode' invalid write error action"],
  ['-drive file=/w/disk.img,if=none,aio=fast', 'vscsi: -drive file=/w/disk.img,if=none,aio=fast: invalid aio option'],
  ['-drive file=/w/disk.img,if=none,aio=native', 'vscsi: -drive file=/w/disk.img,if=none,aio=native: aio=native was specified, but it requires cache.direct=on, which was not specified.'],
  ['-drive file=/w/disk.img,if=none,readonly=maybe', "vscsi: -drive file=/w/disk.img,if=none,readonly=maybe: Parameter 'read-only' expects 'on' or 'off'"],
  ['-drive file=/w/disk.img,if=none,format=foo', "vscsi: -drive file=/w/disk.img,if=none,format=foo: Unknown driver 'foo'"],
  ['-drive file=/w/disk.img,if=none,format=raw,driver=raw', "vscsi: -drive file=/w/disk.img,if=none,format=raw,driver=raw: Cannot specify both 'driver' and 'format'"],
  ['-drive file=/w/disk.img,if=none,format=raw,bogus=1', "vscsi: -drive file=/w/disk.img,if=none,format=raw,bogus=1: Block format 'raw' does not support the option 'bogus'"],
  ['-drive file=/w/disk.img,if=none,format=qcow2', "vscsi: -drive file=/w/disk.img,if=none,format=qcow2: The 'qcow2' format is not supported yet by this simulator"],
  ['-drive file=/w/real.qcow2,if=none', "vscsi: -drive file=/w/real.qcow2,if=none: The 'qcow2' format is not supported yet by this simulator"],
  ['-drive file=blkdebug:/w/x.conf:/w/disk.img,if=none,format=raw', 'vscsi: -drive file=blkdebug:/w/x.conf:/w/disk.img,if=none,format=raw: Could not read blkdebug config file: No such file or directory'],
  ['-drive file=blkdebug:/w/disk.img,if=none,format=raw', 'vscsi: -drive file=blkdebug:/w/disk.img,if=none,format=raw: blkdebug requires both config file and image path'],
  // other options
  ['-m 512 -frobnicate', 'vscsi: -frobnicate: invalid option'],
  ['-m', 'vscsi: -m: requires an argument'],
  ['-m 12Q', "vscsi: -m 12Q: Parameter 'size' expects a non-negative number below 2^64\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively."],
  ['-smp 2,cpux=1', "vscsi: -smp 2,cpux=1: Invalid parameter 'cpux'"],
  ['-smp x', "vscsi: -smp x: Parameter 'cpus' expects a number"],
  ['-machine foo', 'vscsi: unsupported machine type\nUse -machine help to list supported machines'],
  ['-machine pc,frob=1', "vscsi: -machine pc,frob=1: Property 'pc-i440fx-7.2-machine.frob' not found"],
  ['-machine pc,id=m', "vscsi: -machine pc,id=m: Invalid parameter 'id'"],
];

describe('command-line errors (QEMU 7.2 wording)', () => {
  it.each(TABLE)('%s', (argv, expected) => {
    expect(err(args(argv)).error).toBe(expected);
  });
});

describe('warnings that come before an error', () => {
  it('the scsi-disk alias warns, then the chosen scsi-hd reports its own error', () => {
    const r = err(args(`${C} -device scsi-disk,drive=nope`));
    expect(r.warnings).toEqual([
      "vscsi: -device scsi-disk,drive=nope: warning: 'scsi-disk' is deprecated, please use 'scsi-hd' or 'scsi-cd' instead",
    ]);
    expect(r.error).toBe("vscsi: -device scsi-disk,drive=nope: Property 'scsi-disk.drive' can't find value 'nope'");
  });

  it('a short-form boolean warns as QEMU 6.0+ does', () => {
    const r = err(args('-drive /w/disk.img'));
    expect(r.warnings).toEqual([
      "vscsi: -drive /w/disk.img: warning: short-form boolean option '/w/disk.img' deprecated",
      'Please use /w/disk.img=on instead',
    ]);
  });
});
