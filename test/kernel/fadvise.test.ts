// fadvise64(2): the advice reaches the open file; anything Linux does not know is EINVAL.
import { describe, expect, it } from 'vitest';
import { O_CREAT, O_WRONLY, POSIX_FADV_RANDOM } from '../../src/kernel/syscalls.ts';
import { testKernel } from '../fakes/test_kernel.ts';

describe('fadvise', () => {
  it('accepts the six advice values and refuses others, negative offsets and lengths with EINVAL', async () => {
    const k = testKernel();
    const sys = k.vfs.syscalls();
    const fd = await sys.open('/tmp-file', O_WRONLY | O_CREAT);
    for (const advice of [0, 1, 2, 3, 4, 5]) await expect(sys.fadvise!(fd, 0, 0, advice)).resolves.toBeUndefined();
    await expect(sys.fadvise!(fd, 0, 0, 6)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(sys.fadvise!(fd, -1, 0, POSIX_FADV_RANDOM)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(sys.fadvise!(fd, 0, -1, POSIX_FADV_RANDOM)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(sys.fadvise!(fd + 100, 0, 0, POSIX_FADV_RANDOM)).rejects.toMatchObject({ code: 'EBADF' });
  });
});
