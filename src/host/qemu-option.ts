// Models util/qemu-option.c (QEMU 7.2): QemuOpts parsing of `key=val,key2=val2` option strings.
//
// Syntax, as QEMU 7.2 reads it:
//   - parameters are separated by `,`; inside a value `,,` stands for a literal comma;
//   - a list with an implied first key (`-device` → `driver`) takes a first parameter without `=`
//     as that key's value (`scsi-hd,drive=d0` → driver=scsi-hd);
//   - any other parameter without `=` is a short-form boolean: `foo` → foo=on, `nofoo` → foo=off,
//     with a deprecation warning (`help` and `?` are exempt: they ask for help);
//   - `id=` is taken out of the list and validated as an identifier; lists that do not merge refuse
//     a second set of options with the same id (`Duplicate ID 'x' for drive`).
// Errors are values: a list of lines (first the message, then hint lines), never exceptions.

export type OptType = 'string' | 'bool' | 'number' | 'size';

export interface OptDesc {
  readonly name: string;
  readonly type: OptType;
  readonly help?: string;
}

/** A QemuOptsList: how one option (`-drive`, `-device`, `-m` …) is parsed. */
export interface QemuOptsList {
  readonly name: string;
  /** Key given to a leading parameter without `=` (`driver` for -device, `size` for -m). */
  readonly impliedOptName?: string;
  /** Known keys; empty = accept anything (validated later by the consumer). */
  readonly desc: readonly OptDesc[];
  /** True for lists where several occurrences merge into one (-machine, -m): no `id=`. */
  readonly mergeLists?: boolean;
}

export interface QemuOpt {
  readonly name: string;
  readonly value: string;
}

export interface QemuOpts {
  readonly list: string;
  readonly id: string | undefined;
  /** In the order given; `id` is not among them. A later duplicate wins in `qemuOptGet`. */
  readonly opts: readonly QemuOpt[];
}

/** An error as QEMU reports it: the message, then hint lines printed as they are. */
export interface QemuError {
  readonly message: string;
  readonly hints: readonly string[];
}

export type ParseResult =
  | { readonly ok: true; readonly opts: QemuOpts; readonly warnings: readonly QemuWarning[] }
  | { readonly ok: false; readonly error: QemuError; readonly warnings: readonly QemuWarning[] };

/** A warning: `warning: <message>` at the option's location, then plain lines. */
export interface QemuWarning {
  readonly message: string;
  readonly extra: readonly string[];
}

export function qemuError(message: string, ...hints: string[]): QemuError {
  return { message, hints };
}

/** QERR_INVALID_PARAMETER_VALUE */
export function invalidParameterValue(name: string, expected: string): QemuError {
  return qemuError(`Parameter '${name}' expects ${expected}`);
}

/** QERR_INVALID_PARAMETER */
export function invalidParameter(name: string): QemuError {
  return qemuError(`Invalid parameter '${name}'`);
}

export function isHelpOption(s: string): boolean {
  return s === 'help' || s === '?';
}

/** Identifiers: a letter, then letters, digits, '-', '.', '_' (util/id.c id_wellformed). */
export function idWellformed(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9\-._]*$/.test(id);
}

export const ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.";

/** Reads a value up to the next single comma; `,,` is a literal comma. Returns [value, next index]. */
function getOptValue(s: string, i: number): [string, number] {
  let out = '';
  while (i < s.length) {
    const c = s[i]!;
    if (c === ',') {
      if (s[i + 1] !== ',') break;
      i++;
    }
    out += s[i]!;
    i++;
  }
  return [out, i];
}

interface RawParam {
  name: string;
  value: string;
  /** Written without `=` (a short-form boolean, or the implied first key). */
  flag: boolean;
  prefix: '' | 'no';
}

/** Splits a parameter string as get_opt_name_value does. */
function splitParams(params: string, firstName: string | undefined): RawParam[] {
  const out: RawParam[] = [];
  let i = 0;
  let first = firstName;
  while (i < params.length) {
    let len = 0;
    while (i + len < params.length && params[i + len] !== '=' && params[i + len] !== ',') len++;
    if (params[i + len] !== '=') {
      if (first !== undefined) {
        const [v, next] = getOptValue(params, i);
        out.push({ name: first, value: v, flag: false, prefix: '' });
        i = next;
      } else {
        const name = params.slice(i, i + len);
        i += len;
        if (name.startsWith('no')) out.push({ name: name.slice(2), value: 'off', flag: true, prefix: 'no' });
        else out.push({ name, value: 'on', flag: true, prefix: '' });
      }
    } else {
      const name = params.slice(i, i + len);
      const [v, next] = getOptValue(params, i + len + 1);
      out.push({ name, value: v, flag: false, prefix: '' });
      i = next;
    }
    if (params[i] === ',') i++;
    first = undefined;
  }
  return out;
}

/** qapi_bool_parse: on/yes/true/y and off/no/false/n. */
export function parseBool(value: string): boolean | undefined {
  if (['on', 'yes', 'true', 'y'].includes(value)) return true;
  if (['off', 'no', 'false', 'n'].includes(value)) return false;
  return undefined;
}

/**
 * qemu_strtou64 with base 0: decimal, 0x hex, leading-0 octal; a leading '-' wraps modulo 2^64
 * as strtoull does. undefined = not a number (or trailing junk); 'range' = does not fit in 64 bits.
 */
export function strtou64(s: string): bigint | undefined | 'range' {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  if (v > 0xffff_ffff_ffff_ffffn) return 'range';
  if (m[1] === '-') v = (0x1_0000_0000_0000_0000n - v) & 0xffff_ffff_ffff_ffffn;
  return v;
}

const SIZE_SUFFIX: Record<string, bigint> = {
  B: 1n, b: 1n, K: 1n << 10n, k: 1n << 10n, M: 1n << 20n, m: 1n << 20n, G: 1n << 30n, g: 1n << 30n,
  T: 1n << 40n, t: 1n << 40n, P: 1n << 50n, p: 1n << 50n, E: 1n << 60n, e: 1n << 60n,
};

/**
 * qemu_strtosz: a number (possibly fractional) with an optional binary suffix; `defaultSuffix`
 * applies when none is given. undefined = invalid, 'range' = at least 2^64.
 */
export function strtosz(s: string, defaultSuffix: 'B' | 'M' = 'B'): bigint | undefined | 'range' {
  const m = /^(\d+)(?:\.(\d+))?([BbKkMmGgTtPpEe]?)$/.exec(s);
  if (!m) return undefined;
  const mult = SIZE_SUFFIX[m[3] || defaultSuffix]!;
  const whole = BigInt(m[1]!);
  let v = whole * mult;
  if (m[2] !== undefined) {
    if (mult === 1n) return undefined; // a fraction needs a suffix
    const frac = BigInt(m[2]);
    v += (frac * mult) / 10n ** BigInt(m[2].length);
  }
  if (v >= 1n << 64n) return 'range';
  return v;
}

export const SIZE_HINTS = [
  'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-',
  'and exabytes, respectively.',
];

/** Validates one value against its descriptor (opt_validate / qemu_opt_parse). */
export function validateOptValue(desc: OptDesc, value: string): QemuError | undefined {
  switch (desc.type) {
    case 'string':
      return undefined;
    case 'bool':
      return parseBool(value) === undefined ? invalidParameterValue(desc.name, "'on' or 'off'") : undefined;
    case 'number': {
      const n = strtou64(value);
      if (n === 'range') return qemuError(`Value '${value}' is too large for parameter '${desc.name}'`);
      return n === undefined ? invalidParameterValue(desc.name, 'a number') : undefined;
    }
    case 'size': {
      const n = strtosz(value);
      if (n === 'range') return qemuError(`Value '${value}' is out of range for parameter '${desc.name}'`);
      if (n === undefined)
        return qemuError(`Parameter '${desc.name}' expects a non-negative number below 2^64`, ...SIZE_HINTS);
      return undefined;
    }
  }
}

/** The option sets already parsed for each list, for `Duplicate ID` checks (QemuOptsList.head). */
export type OptsRegistry = Map<string, Set<string>>;

/**
 * qemu_opts_parse_noisily: parses `params` for `list`. `registry` holds the ids already used in each
 * list; the new id is added on success. Short-form booleans produce warnings.
 */
export function qemuOptsParse(list: QemuOptsList, params: string, registry: OptsRegistry): ParseResult {
  const raw = splitParams(params, list.impliedOptName);
  const warnings: QemuWarning[] = [];
  for (const p of raw) {
    if (p.flag && !(p.prefix === '' && isHelpOption(p.name))) {
      warnings.push({
        message: `short-form boolean option '${p.prefix}${p.name}' deprecated`,
        extra: [`Please use ${p.name}=${p.value} instead`],
      });
    }
  }
  // opts_parse_id: the first `id=` (read without the implied first key)
  const id = splitParams(params, undefined).find((p) => p.name === 'id' && !p.flag)?.value;
  if (list.mergeLists) {
    if (id !== undefined) return { ok: false, error: invalidParameter('id'), warnings };
  } else if (id !== undefined) {
    if (!idWellformed(id)) {
      return { ok: false, error: qemuError(invalidParameterValue('id', 'an identifier').message, ID_HINT), warnings };
    }
    if (registry.get(list.name)?.has(id)) {
      return { ok: false, error: qemuError(`Duplicate ID '${id}' for ${list.name}`), warnings };
    }
  }
  const opts: QemuOpt[] = [];
  for (const p of raw) {
    if (p.name === 'id') continue;
    if (list.desc.length > 0) {
      const d = list.desc.find((x) => x.name === p.name);
      if (!d) return { ok: false, error: invalidParameter(p.name), warnings };
      const err = validateOptValue(d, p.value);
      if (err) return { ok: false, error: err, warnings };
    }
    opts.push({ name: p.name, value: p.value });
  }
  if (id !== undefined && !list.mergeLists) {
    let ids = registry.get(list.name);
    if (!ids) registry.set(list.name, (ids = new Set()));
    ids.add(id);
  }
  return { ok: true, opts: { list: list.name, id, opts }, warnings };
}

/** qemu_opt_get: the last value given for `name`. */
export function qemuOptGet(opts: QemuOpts, name: string): string | undefined {
  for (let i = opts.opts.length - 1; i >= 0; i--) if (opts.opts[i]!.name === name) return opts.opts[i]!.value;
  return undefined;
}

/** qemu_opt_has_help_opt */
export function qemuOptHasHelpOpt(opts: QemuOpts): boolean {
  return opts.opts.some((o) => isHelpOption(o.name));
}

/** Formats an error as the command line prints it: `vscsi: <location>: <message>`, then the hints. */
export function formatError(prog: string, location: string | undefined, err: QemuError): string[] {
  const head = location === undefined ? `${prog}: ${err.message}` : `${prog}: ${location}: ${err.message}`;
  return [head, ...err.hints];
}

/** Formats a warning as warn_report does at a location. */
export function formatWarning(prog: string, location: string | undefined, w: QemuWarning): string[] {
  const head = location === undefined ? `${prog}: warning: ${w.message}` : `${prog}: ${location}: warning: ${w.message}`;
  return [head, ...w.extra];
}
