// Models modutils/modprobe.c, insmod.c, rmmod.c, lsmod.c and modutils.c (busybox 1.36, the full
// modprobe, not modprobe-small): loading and unloading kernel modules through init_module /
// delete_module (Syscalls.initModule / deleteModule).
//
// Where modules are found: modprobe reads /lib/modules/$(uname -r)/modules.dep when the guest has
// one (names, paths, dependencies). The simulated guest keeps its modules in the kernel rather than
// as .ko files, so without modules.dep the kernel's own module table stands in for it: a name the
// kernel does not know (initModule fails with ENOENT) is reported as busybox reports a name missing
// from modules.dep. Which modules are loaded comes from /proc/modules when the kernel has it.
// Not modelled: /etc/modprobe.conf and /etc/modprobe.d, aliases, blacklists, options from the
// kernel command line (the kernel applies `mod.param=` itself), `modprobe -l` without modules.dep.

import type { Errno } from '../kernel/errno.ts';
import { isErrno } from '../kernel/errno.ts';
import { O_RDONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, basename, err, getopt, readFile, resolvePath, showUsage } from './applet.ts';

const MODULES_DIR = '/lib/modules';
const MODULE_NAME_LEN = 56;

/** filename2modname: up to the first '.', '-' read as '_'. */
export function filename2modname(name: string): string {
  const dot = name.indexOf('.');
  return (dot < 0 ? name : name.slice(0, dot)).slice(0, MODULE_NAME_LEN - 1).replace(/-/g, '_');
}

/** moderror: what insmod/modprobe say about an init_module errno. */
function moderror(e: Errno): string {
  switch (e.code) {
    case 'ENOEXEC':
      return 'invalid module format';
    case 'ENOENT':
      return 'unknown symbol in module, or unknown parameter';
    case 'ESRCH':
      return 'module has wrong symbol version';
    case 'ENOSYS':
      return 'kernel does not support requested operation';
    default:
      return e.message;
  }
}

/**
 * parse_cmdline_module_options: `name=value` words joined by spaces; with `quoteSpaces` (modprobe)
 * a value holding a space is quoted. Each word is followed by a space, as busybox builds it.
 */
function moduleOptions(words: readonly string[], quoteSpaces: boolean): string {
  let s = '';
  for (const w of words) {
    const eq = w.indexOf('=');
    const val = eq < 0 ? '' : w.slice(eq + 1);
    if (quoteSpaces && eq >= 0 && val.includes(' ')) s += `${w.slice(0, eq + 1)}"${val}" `;
    else s += `${w} `;
  }
  return s;
}

async function readText(p: Process, path: string): Promise<string | null> {
  try {
    return new TextDecoder().decode(await readFile(p.sys, path));
  } catch (e) {
    if (!isErrno(e)) throw e;
    return null;
  }
}

/** Names in /proc/modules (null when the kernel has no such file). */
async function loadedModules(p: Process): Promise<Set<string> | null> {
  const text = await readText(p, '/proc/modules');
  if (text === null) return null;
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((n) => n !== '' && !n.startsWith('#')),
  );
}

/** modules.dep: module name → its path first, then the paths it depends on (as listed). */
function parseModulesDep(text: string): Map<string, string[]> {
  const db = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    db.set(filename2modname(basename(path)), [path, ...deps]);
  }
  return db;
}

const MODPROBE_USAGE = '[-alrqvsDb] MODULE [SYMBOL=VALUE]...';

export async function modprobeMain(p: Process): Promise<number> {
  const parsed = await getopt(p, 'modprobe', 'vqsalrDb');
  if (!parsed) return showUsage(p, 'modprobe', MODPROBE_USAGE);
  const f = parsed.flags;
  // -l, -r, -a and -D exclude one another (except -a with -D).
  const exclusive = ['l', 'r', 'a', 'D'].filter((c) => f.has(c));
  if (exclusive.length > 1 && !(exclusive.length === 2 && f.has('a') && f.has('D'))) return showUsage(p, 'modprobe', MODPROBE_USAGE);
  const quiet = f.has('q');
  const remove = f.has('r');
  const showDeps = f.has('D');
  const args = parsed.rest;
  const release = p.sys.uname().release;
  const moddir = `${MODULES_DIR}/${release}`;
  const depText = await readText(p, `${moddir}/modules.dep`);
  const db = depText === null ? null : parseModulesDep(depText);
  const o = new Out(p, 'modprobe');

  if (f.has('l')) {
    if (db === null) {
      await err(p, `modprobe: can't open 'modules.dep': No such file or directory\n`);
      return 1;
    }
    const pats = args.map((a) => a.replace(/-/g, '_'));
    for (const [name, [path]] of db) {
      if (pats.length === 0 || pats.some((pat) => globMatch(pat, name))) o.print(`${path}\n`);
    }
    return (await o.flush()) ? 0 : 1;
  }

  if (args.length === 0) return 0; // `modprobe -r` alone: autoclean, which delete_module(NULL) ignores
  const loaded = (await loadedModules(p)) ?? new Set<string>();
  const builtin = new Set(
    ((await readText(p, `${moddir}/modules.builtin`)) ?? '')
      .split('\n')
      .filter(Boolean)
      .map((l) => filename2modname(basename(l.trim()))),
  );
  const probes = f.has('a') || remove ? args : args.slice(0, 1);
  const options = f.has('a') || remove ? '' : moduleOptions(args.slice(1), true);

  let rc = 0;
  for (const probed of probes) {
    const name = filename2modname(probed);
    if (!remove && !showDeps && (loaded.has(name) || builtin.has(name))) continue;
    const chain = db ? db.get(name) : [`${name}.ko`];
    if (!chain) {
      if (!quiet) await err(p, `modprobe: module ${probed} ${builtin.has(name) ? 'is builtin' : 'not found in modules.dep'}\n`);
      rc = 1;
      continue;
    }
    if (remove) {
      // The module first, then what it used; only the first failure is an error.
      let first = true;
      for (const path of chain) {
        const m = filename2modname(basename(path));
        if (db && !loaded.has(m)) {
          first = false;
          continue;
        }
        try {
          await p.sys.deleteModule(m);
          loaded.delete(m);
        } catch (e) {
          if (!isErrno(e)) throw e;
          // Without modules.dep, ENOENT is how the kernel says "not loaded": nothing to do.
          if (!db && e.code === 'ENOENT') {
            // as modprobe skips a module /proc/modules does not list
          } else if (first) {
            await o.flush();
            await err(p, `modprobe: can't unload module '${m === name ? probed : m}': ${e.message}\n`);
            rc = 1;
            break;
          }
        }
        first = false;
      }
      continue;
    }
    // Load: dependencies from the last listed to the first, the module itself last.
    const order = [...chain.slice(1).reverse(), chain[0]!];
    for (const path of order) {
      const m = filename2modname(basename(path));
      const opts = m === name ? options : '';
      if (showDeps) {
        o.print(opts ? `insmod ${moddir}/${path} ${opts}\n` : `insmod ${moddir}/${path}\n`);
        continue;
      }
      if (loaded.has(m)) continue;
      try {
        await p.sys.initModule(m, opts.trimEnd());
      } catch (e) {
        if (!isErrno(e)) throw e;
        if (e.code === 'EEXIST') {
          loaded.add(m);
          continue;
        }
        await o.flush();
        if (!db && e.code === 'ENOENT' && m === name) {
          if (!quiet) await err(p, `modprobe: module ${probed} not found in modules.dep\n`);
        } else await err(p, `modprobe: can't load module ${m === name ? probed : m} (${path}): ${moderror(e)}\n`);
        rc = 1;
        break;
      }
      loaded.add(m);
    }
  }
  if (!(await o.flush())) return 1;
  return rc;
}

/** fnmatch without flags, for `modprobe -l PATTERN`. */
function globMatch(pat: string, s: string): boolean {
  const re = pat.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(s);
}

export async function insmodMain(p: Process): Promise<number> {
  const file = p.argv[1];
  if (file === undefined) return showUsage(p, 'insmod', 'FILE [SYMBOL=VALUE]...');
  const options = moduleOptions(p.argv.slice(2), false);
  // bb_init_module: the module image is read from FILE; a file that cannot be opened is -errno.
  try {
    const fd = await p.sys.open(resolvePath(p.cwd, file), O_RDONLY);
    await p.sys.close(fd);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `insmod: can't insert '${file}': ${e.message}\n`);
    return -e.errno & 255;
  }
  try {
    await p.sys.initModule(filename2modname(basename(file)), options.trimEnd());
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `insmod: can't insert '${file}': ${moderror(e)}\n`);
    return e.errno & 255;
  }
  return 0;
}

export async function rmmodMain(p: Process): Promise<number> {
  const parsed = await getopt(p, 'rmmod', 'wfas');
  if (!parsed) return showUsage(p, 'rmmod', '[-wfa] [MODULE]...');
  // -a: delete_module(NULL), which the kernel refuses with EFAULT and rmmod ignores.
  if (parsed.flags.has('a')) return 0;
  if (parsed.rest.length === 0) return showUsage(p, 'rmmod', '[-wfa] [MODULE]...');
  for (const a of parsed.rest) {
    const name = filename2modname(basename(a));
    try {
      await p.sys.deleteModule(name);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `rmmod: can't unload module '${name}': ${e.message}\n`);
      return 1;
    }
  }
  return 0;
}

export async function lsmodMain(p: Process): Promise<number> {
  const text = await readText(p, '/proc/modules');
  if (text === null) {
    await err(p, `lsmod: can't open '/proc/modules': No such file or directory\n`);
    return 1;
  }
  const o = new Out(p, 'lsmod');
  o.print(`${'Module'.padEnd(24)}Size  Used by`);
  const tainted = Number.parseInt((await readText(p, '/proc/sys/kernel/tainted')) ?? '0', 10) || 0;
  if (tainted) o.print(`    Tainted: ${tainted & 1 ? 'P' : 'G'}${tainted & 2 ? 'F' : ' '}${tainted & 4 ? 'S' : ' '}\n`);
  else o.print('    Not tainted\n');
  for (const line of text.split('\n')) {
    const t = line.trim().split(/[ \t]+/);
    if (t.length < 4 || t[0]!.startsWith('#')) continue;
    const usedBy = t[3]!.slice(0, -1);
    o.print(`${t[0]!.padEnd(19)} ${t[1]!.padStart(8)} ${t[2]!.padStart(2)} ${usedBy}\n`);
  }
  return (await o.flush()) ? 0 : 1;
}
