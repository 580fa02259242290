// Lint: the two-worlds boundary (shared/STYLE.md ★1) and no ambient time or randomness outside src/sim (★8).
import path from 'node:path';
import tseslint from 'typescript-eslint';

const SRC = path.resolve('src');
const GUEST = ['virtio', 'lowlevel', 'midlayer', 'highlevel', 'block', 'sysfs', 'kernel', 'shell', 'udev'];

/** Which world a file under src/ belongs to: 'host', 'guest', or a shared folder name. */
function worldOf(file) {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel[0] === 'host') return 'host';
  if (GUEST.includes(rel[0])) return 'guest';
  return rel[0];
}

// A resolved-path rule: imports are relative .ts paths, so the boundary is checked on real folders.
const boundary = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const from = context.filename;
    const fromWorld = worldOf(from);
    const fromTop = path.relative(SRC, from).split(path.sep)[0];
    return {
      ImportDeclaration(node) {
        const spec = node.source.value;
        if (typeof spec !== 'string' || !spec.startsWith('.')) return;
        const target = path.resolve(path.dirname(from), spec);
        if (!target.startsWith(SRC + path.sep)) return;
        const toWorld = worldOf(target);
        const toTop = path.relative(SRC, target).split(path.sep)[0];
        if (fromWorld === 'host' && toWorld === 'guest')
          context.report({ node, message: 'The device model sees only guest memory, registers and IRQs.' });
        else if (fromWorld === 'guest' && toWorld === 'host')
          context.report({ node, message: 'The guest sees only guest memory, registers and IRQs.' });
        else if (fromTop === 'midlayer' && (toTop === 'lowlevel' || toTop === 'highlevel'))
          context.report({ node, message: 'Drivers register ops tables with the core; the core never imports them.' });
        else if (fromTop === 'protocol' && toTop !== 'protocol')
          context.report({ node, message: 'src/protocol holds layouts and constants and imports nothing.' });
      },
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    plugins: { vscsi: { rules: { boundary } } },
    rules: {
      'vscsi/boundary': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now' },
        { object: 'Math', property: 'random' },
        { object: 'performance', property: 'now' },
      ],
    },
  },
  {
    files: ['src/sim/**/*.ts', 'src/cli/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', '*.config.*'],
    rules: { 'no-restricted-globals': 'off', 'no-restricted-properties': 'off' },
  },
);
