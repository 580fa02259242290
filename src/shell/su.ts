// Models loginutils/su.c and the `sh` applet entry of shell/ash.c (busybox 1.36): `su [-] [-s SHELL]
// [-c CMD] [USER]` runs a shell with USER's uid/gid (root needs no password; USER defaults to root),
// `sh [-c CMD | FILE] [ARGS]` runs a child shell on the caller's streams.

import { isErrno } from '../kernel/errno.ts';
import type { Process } from './process.ts';
import type { CommandRegistry } from './registry.ts';
import { err, idNames, readFile, resolvePath } from './applet.ts';
import { Shell } from './sh.ts';

function childShell(p: Process, registry: CommandRegistry, sys = p.sys): Shell {
  return new Shell({ sys, registry, cwd: p.cwd, env: Object.fromEntries(p.env) });
}

export function makeSh(registry: CommandRegistry) {
  return async (p: Process): Promise<number> => {
    const args = p.argv.slice(1);
    if (args[0] === '-c') {
      const cmd = args[1];
      if (cmd === undefined) {
        await err(p, 'sh: -c requires an argument\n');
        return 2;
      }
      return childShell(p, registry).exec(cmd, p, args.slice(3));
    }
    const file = args[0];
    let text: string;
    if (file === undefined) text = new TextDecoder().decode(await p.stdin.readAll());
    else {
      try {
        text = new TextDecoder().decode(await readFile(p.sys, resolvePath(p.cwd, file)));
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `sh: can't open '${file}': ${e.message}\n`);
        return 2;
      }
    }
    return childShell(p, registry).exec(text, p, args.slice(1));
  };
}

export function makeSu(registry: CommandRegistry) {
  return async (p: Process): Promise<number> => {
    const args = p.argv.slice(1);
    let cmd: string | null = null;
    let user = 'root';
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-c' || a === '-s') {
        const v = args[++i];
        if (v === undefined) {
          await err(p, `su: option requires an argument -- '${a[1]}'\n`);
          return 1;
        }
        if (a === '-c') cmd = v;
      } else if (a === '-' || a === '-l' || a === '-m' || a === '-p') continue;
      else user = a;
    }
    const names = await idNames(p.sys);
    const uid = names.uidOf(user);
    if (uid === undefined) {
      await err(p, `su: unknown user ${user}\n`);
      return 1;
    }
    const me = p.sys.getcred();
    if (me.uid !== 0) {
      await err(p, 'su: incorrect password\n');
      return 1;
    }
    const gid = await gidOf(p, user, uid);
    return p.sys.withCred({ uid, gid }, (sys) => childShell(p, registry, sys).exec(cmd ?? '', p));
  };
}

async function gidOf(p: Process, user: string, uid: number): Promise<number> {
  try {
    const pw = new TextDecoder().decode(await readFile(p.sys, '/etc/passwd'));
    const line = pw.split('\n').find((l) => l.startsWith(`${user}:`));
    const g = line?.split(':')[3];
    return g !== undefined ? Number(g) : uid;
  } catch {
    return uid;
  }
}
