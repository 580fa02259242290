#!/usr/bin/env node
// Entry point of the `vscsi` command: runs the TypeScript sources through tsx (Node 20 has no type stripping).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/vscsi.ts');
process.exitCode = await main(process.argv.slice(2));
