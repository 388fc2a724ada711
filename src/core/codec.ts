import { UserError } from "./diagnostic.js";
import { writeCanonicalJson } from "./canonical.js";
import { type JsonPath, parseJsonBytes, SkippedList } from "./json-bytes.js";

export { SkippedList } from "./json-bytes.js";

/**
 * The canonical byte form of every artifact: same value -> same bytes -> same digest.
 *
 * One caveat, kept because changing it would move every recorded digest (and the seeds derived
 * from them): sections are numbered in the order the writer's object keys were inserted, while the
 * header lists keys sorted. So the order in which a kind builds an object holding several typed
 * arrays is part of its bytes (reordering them is a change that bumps the kind's version). `decode`
 * gives objects back in the header's (sorted) order, as every recorded artifact was made with: a
 * kind that spreads a decoded input into its output (bucket) numbers its sections in that order.
 * Decoding in the writer's order instead (tried: it makes encode(decode(bytes)) equal `bytes`)
 * changed bucket's bytes under unchanged keys, which `--frozen` caught on spam's lock.
 *
 *   "RNNPART1"  u32le headerLength  header (canonical JSON, zero-padded to 8)  sections (each padded to 8)
 *
 * The header is the artifact's value tree with every typed array replaced by a section reference,
 * so numeric payloads stay binary (fast to hash and to restore as views) and small metadata stays
 * readable. Floating-point NaNs are written as the one quiet NaN, as their payload bits are noise.
 */
export type Numeric =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export type Value = null | boolean | number | string | Numeric | Value[] | { [key: string]: Value };

const MAGIC = Buffer.from("RNNPART1", "latin1");
const SECTION = "$section";

const DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  i16: Int16Array,
  u16: Uint16Array,
  i8: Int8Array,
  u8: Uint8Array,
} as const;
type DType = keyof typeof DTYPES;

function dtypeOf(a: Numeric): DType {
  for (const [name, ctor] of Object.entries(DTYPES)) if (a instanceof ctor) return name as DType;
  throw new TypeError("unsupported typed array");
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

/**
 * How `encode` gives back the memory of a value it is the last to use (the runner's outputs, once a
 * stage has run): the lists of scalars in `lists` (a table's columns) are emptied as their items are
 * written, and `collect` runs every `every` bytes of header written (at least a quarter of it), so
 * their strings go while the artifact's bytes come. Only for headers of `from` bytes or more: the
 * process then never holds a large table's strings and its bytes whole at once.
 */
export interface Release {
  lists: ReadonlySet<readonly unknown[]>;
  from: number;
  every: number;
  collect(): void;
}

export function encode(value: Value, release?: Release): Buffer {
  const sections: Uint8Array[] = [];
  const tree = lift(value, sections);
  // The header (which holds a table's strings: tens of MB for a large one) is spelled twice, piece
  // by piece: once to measure it, once straight into the artifact's buffer. Never whole: a whole
  // header is a string as large as the artifact, and the pieces joined would be another.
  let headerLength = 0;
  writeCanonicalJson(tree, (piece) => {
    headerLength += Buffer.byteLength(piece, "utf8");
  });
  const headerEnd = 12 + headerLength + pad8(12 + headerLength);
  let total = headerEnd;
  for (const s of sections) total += s.byteLength + pad8(s.byteLength);
  // Not zeroed (every byte is written below, padding included): a zeroed buffer is resident whole
  // at once, while this one's pages come as they are written.
  const out = Buffer.allocUnsafeSlow(total);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(headerLength, 8);
  // Written through a view of the header alone: Node 20's Buffer#write writes nothing into a
  // buffer over 2 GiB (an artifact that large must still reach the size check, not fail here).
  const header = out.subarray(12, 12 + headerLength);
  const releasing = release && headerLength >= release.from ? release : undefined;
  const every = releasing ? Math.max(releasing.every, headerLength / 4) : Infinity;
  let at = 0;
  let collectAt = every;
  writeCanonicalJson(
    tree,
    (piece) => {
      at += header.write(piece, at, "utf8");
      if (at >= collectAt) {
        collectAt = at + every;
        releasing!.collect();
      }
    },
    releasing?.lists,
  );
  if (at !== headerLength) throw new Error("artifact header changed while it was written");
  out.fill(0, 12 + headerLength, headerEnd);
  at = headerEnd;
  for (const s of sections) {
    out.set(s, at);
    out.fill(0, at + s.byteLength, at + s.byteLength + pad8(s.byteLength));
    at += s.byteLength + pad8(s.byteLength);
  }
  return out;
}

/**
 * The lists of scalars in `values` that occur once among them all (by identity) and nowhere in
 * `others`: those `encode` may empty as it writes them. A list held twice (two columns, or two
 * outputs, sharing one array) is written twice, and must still be whole the second time; a list
 * `others` hold (a stage's parameters, which a kind may put in its output as they are) is not the
 * outputs' to empty.
 */
export function listsHeldOnce(
  values: readonly Value[],
  others: readonly unknown[] = [],
): Set<readonly unknown[]> {
  const seen = new Set<readonly unknown[]>();
  const twice = new Set<readonly unknown[]>();
  for (const v of values)
    eachList(v, (list) => {
      if (seen.has(list) || Object.isFrozen(list)) twice.add(list);
      else seen.add(list);
    });
  // Another holder's lists count as a second holding.
  for (const o of others)
    eachList(o, (list) => {
      if (seen.has(list)) twice.add(list);
    });
  for (const l of twice) seen.delete(l);
  return seen;
}

/** Every list of scalars in a value (the lists `lift` leaves as they are), in any object or list. */
function eachList(v: unknown, found: (list: readonly unknown[]) => void): void {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return;
  if (Array.isArray(v)) {
    if (!hasObjects(v as Value[])) found(v);
    else for (const x of v) eachList(x, found);
    return;
  }
  for (const x of Object.values(v)) eachList(x, found);
}

function lift(v: Value, sections: Uint8Array[]): unknown {
  if (ArrayBuffer.isView(v)) {
    const dtype = dtypeOf(v);
    const canon =
      dtype === "f32" || dtype === "f64" ? canonicalNaNs(v as Float32Array | Float64Array) : v;
    sections.push(new Uint8Array(canon.buffer, canon.byteOffset, canon.byteLength));
    return { [SECTION]: sections.length - 1, dtype, length: v.length };
  }
  // A list of scalars (a table's column) is its own header: not copied.
  if (Array.isArray(v)) return hasObjects(v) ? v.map((x) => lift(x, sections)) : v;
  if (v !== null && typeof v === "object") {
    if (SECTION in v)
      throw new TypeError(`artifact objects may not use the reserved key ${SECTION}`);
    // fromEntries defines properties, so even a "__proto__" key stays data.
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, lift(x, sections)]));
  }
  return v;
}

function hasObjects(xs: readonly Value[]): boolean {
  for (let i = 0; i < xs.length; i++) if (xs[i] !== null && typeof xs[i] === "object") return true;
  return false;
}

function canonicalNaNs<T extends Float32Array | Float64Array>(a: T): T {
  let copy: T | undefined;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) {
      copy ??= a.slice() as T;
      copy[i] = NaN;
    }
  }
  return copy ?? a;
}

export class CodecError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { code: "codec", hint });
  }
}

export interface DecodeOptions {
  /**
   * The bytes are lent (a buffer valid only for a while, such as LMDB's in place): nothing decoded
   * may point into them, so sections are copied out rather than viewed.
   */
  borrowed?: boolean;
  /**
   * Lists of scalars in the header to leave unparsed, by their place (json-bytes' `skip`): they are
   * checked and counted, and come back as SkippedList objects, to be parsed (parseSkipped) while
   * the bytes are still there, or dropped.
   */
  skip?(path: JsonPath): boolean;
  /** Told how far a large header's parse has read (json-bytes' `read`). */
  read?(upTo: number): void;
}

export function decode(bytes: Uint8Array, options: DecodeOptions = {}): Value {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC))
    throw new CodecError("not an rnnp artifact (bad magic)");
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) throw new CodecError("truncated artifact header");
  const tree = parseHeader(buf, 12, 12 + headerLength, options);

  // Sections follow the header in index order; their starts follow from the lengths the header gives.
  const refs: Record<string, unknown>[] = [];
  const gather = (t: unknown): void => {
    if (Array.isArray(t)) t.forEach(gather);
    else if (t !== null && typeof t === "object" && !(t instanceof SkippedList)) {
      const ref = t as Record<string, unknown>;
      if (SECTION in ref) refs[ref[SECTION] as number] = ref;
      else Object.values(ref).forEach(gather);
    }
  };
  gather(tree);
  const starts: number[] = [];
  let at = 12 + headerLength + pad8(12 + headerLength);
  for (const ref of refs) {
    const ctor = DTYPES[ref.dtype as DType];
    if (!ctor) throw new CodecError(`unknown dtype ${String(ref.dtype)}`);
    const n = (ref.length as number) * ctor.BYTES_PER_ELEMENT;
    starts.push(at);
    at += n + pad8(n);
  }
  if (at !== buf.length)
    throw new CodecError(`artifact length ${buf.length} does not match its header (${at})`);

  // Views into the bytes keep all of them alive. When the header (a table's strings, now parsed
  // into values of their own) is most of the bytes, the sections are copied out instead, so the
  // bytes can go once decoded.
  const copySections =
    options.borrowed === true ||
    (headerLength > WHOLE_HEADER_BYTES && headerLength > buf.length - headerLength);
  const resolve = (t: unknown): Value => {
    if (Array.isArray(t)) {
      // In place: the parsed list is ours, and a table's column is a million items.
      for (let i = 0; i < t.length; i++) {
        const x = t[i] as unknown;
        if (x !== null && typeof x === "object") t[i] = resolve(x);
      }
      return t as Value[];
    }
    if (t instanceof SkippedList) return t as unknown as Value;
    if (t !== null && typeof t === "object") {
      const ref = t as Record<string, unknown>;
      if (SECTION in ref) return view(buf, ref, starts[ref[SECTION] as number]!, copySections);
      return Object.fromEntries(Object.entries(ref).map(([k, x]) => [k, resolve(x)]));
    }
    return t as Value;
  };
  return resolve(tree);
}

/** Above this, a header (a table's strings) is parsed from its bytes run by run, never held whole. */
const WHOLE_HEADER_BYTES = 1 << 20;

/** A header parsed whole by JSON.parse when small, else from its bytes; with lists to skip, always the latter. */
function parseHeader(
  buf: Buffer,
  start: number,
  end: number,
  { skip, read }: DecodeOptions,
): unknown {
  try {
    return end - start <= WHOLE_HEADER_BYTES && !skip
      ? JSON.parse(buf.toString("utf8", start, end))
      : parseJsonBytes(buf, start, end, { ...(skip ? { skip } : {}), ...(read ? { read } : {}) });
  } catch (e) {
    throw new CodecError(`the artifact's header is not JSON (${(e as Error).message})`);
  }
}

/**
 * A list `decode` skipped, parsed from the same bytes (valid only while they are: lent bytes must
 * still be lent). It holds scalars only, so nothing in it refers to a section.
 */
export function parseSkipped(
  bytes: Uint8Array,
  list: SkippedList,
  read?: DecodeOptions["read"],
): Value[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return parseJsonBytes(buf, list.from, list.to, read ? { read } : {}) as Value[];
  } catch (e) {
    throw new CodecError(`the artifact's header is not JSON (${(e as Error).message})`);
  }
}

function view(buf: Buffer, ref: Record<string, unknown>, start: number, copyOut: boolean): Numeric {
  const ctor = DTYPES[ref.dtype as DType];
  const length = ref.length as number;
  const offset = buf.byteOffset + start;
  // A view when aligned and asked (no copy: restores run at memory speed), a copy otherwise.
  if (!copyOut && offset % ctor.BYTES_PER_ELEMENT === 0)
    return new ctor(buf.buffer as ArrayBuffer, offset, length) as Numeric;
  const copy = new Uint8Array(length * ctor.BYTES_PER_ELEMENT);
  copy.set(buf.subarray(start, start + copy.byteLength));
  return new ctor(copy.buffer, 0, length) as Numeric;
}
